"""Training checkpoints: the network's parameters (BatchNorm statistics included), Adam's moments, step and
learning rate, and string metadata (stage, network, epoch, dropout RNG state, upsampler alignment, val mIoU), written
atomically. `convert.read_weights` reads them as plain weight files (it ignores the optimizer entries).

Layout of one stage's folder RUN/stage<N>/: checkpoints/epoch_<EEE>.ckpt (the last `keep_last` epochs),
best.ckpt (best val mIoU), final.ckpt (written when the stage completes), metrics.jsonl.
"""
import re
from pathlib import Path

import mindspore as ms

from convert.ms_io import load_checkpoint_file
from facts.atomic import atomic_output
from facts.errors import UserError
from ms_erfnet.seeded_dropout import network_state

EPOCH_FILE = re.compile(r"epoch_(\d+)\.ckpt$")


def epoch_path(stage_dir, epoch):
    return Path(stage_dir) / "checkpoints" / f"epoch_{epoch:03d}.ckpt"


def epoch_checkpoints(stage_dir):
    """Per-epoch checkpoints of a stage folder as {epoch: path}."""
    folder = Path(stage_dir) / "checkpoints"
    found = {}
    for path in folder.glob("epoch_*.ckpt") if folder.is_dir() else ():
        match = EPOCH_FILE.search(path.name)
        if match:
            found[int(match.group(1))] = path
    return dict(sorted(found.items()))


def save_training_checkpoint(path, net, optimizer, metadata):
    """Write parameters, optimizer state and `metadata` (values become strings) to `path` atomically."""
    records = [{"name": p.name, "data": p} for p in network_state(net)]
    records += [{"name": p.name, "data": p} for p in optimizer.state_parameters()]
    with atomic_output(path) as temporary:
        ms.save_checkpoint(records, str(temporary), append_dict={key: str(value) for key, value in metadata.items()},
                           crc_check=True)


def load_training_checkpoint(path, net, optimizer):
    """Restore parameters and optimizer state from `path`; returns the string metadata."""
    entries = load_checkpoint_file(path)
    metadata = {key: value for key, value in entries.items() if isinstance(value, str)}
    state = {p.name: p for p in optimizer.state_parameters()}
    network = {name: value for name, value in entries.items() if name not in metadata and name not in state}
    missing = [p.name for p in state.values() if p.name not in entries]
    if missing or "epoch" not in metadata:
        raise UserError(f"{path}: not a training checkpoint of this stage (missing {', '.join(missing[:3]) or 'epoch'})")
    not_loaded = [p.name for p in network_state(net) if p.name not in network]
    if not_loaded:
        raise UserError(f"{path}: lacks network parameters {', '.join(not_loaded[:3])}")
    ms.load_param_into_net(net, network, strict_load=True)
    for name, parameter in state.items():
        parameter.set_data(entries[name].value())
    return metadata


def prune_epoch_checkpoints(stage_dir, keep_last):
    for epoch, path in list(epoch_checkpoints(stage_dir).items())[:-keep_last]:
        path.unlink(missing_ok=True)
