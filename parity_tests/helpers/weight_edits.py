"""Damaged copies of a converted MindSpore checkpoint, for the parity tests that must see the damage."""
import mindspore as ms


def rewritten(source, target, change):
    """A copy of checkpoint `source` with `change(entries)` applied, metadata kept, as MindSpore saves it."""
    entries = change(ms.load_checkpoint(str(source)))
    metadata = {name: value for name, value in entries.items() if isinstance(value, str)}
    ms.save_checkpoint([{"name": name, "data": value} for name, value in entries.items() if name not in metadata],
                       str(target), append_dict=metadata or None)
    return target


def gamma_beta_swapped(entries):
    gamma, beta = "encoder.layers.3.bn1.gamma", "encoder.layers.3.bn1.beta"
    entries[gamma], entries[beta] = entries[beta], entries[gamma]
    return entries
