"""The MindSpore model zoo's ERFNet port (research/cv/erfnet): its parameter names, recognised and written.

The zoo names blocks `encoder.down1`, `encoder.bottleneck1`, ..., `decoder.up1`, ..., `decoder.pred` (the layer
table's `zoo` fields); inside a block the names are this project's (`conv3x1_1`, `bn1.gamma`, ...). Its
encoder-only network is a separate cell whose 1x1 head is the top-level `pred`. Its upsamplers compute with
the `zoo` alignment (see ms_erfnet.blocks.UpsamplerBlock), so zoo names imply that alignment.
"""
from facts.errors import UserError
from facts.spec import zoo_module_names

ZOO_ALIGN = "zoo"
SHOWN = 3


def _renamed(name, modules):
    """`name` with its module prefix replaced through `modules`, or None when no module in it matches."""
    for module, renamed in modules.items():
        if name.startswith(module + "."):
            return renamed + name[len(module):]
    return None


def to_zoo_name(name):
    """The zoo's name for one of this project's parameter names (`encoder.layers.6.bn.gamma` ->
    `encoder.down3.bn.gamma`)."""
    renamed = _renamed(name, zoo_module_names())
    if renamed is None:
        raise ValueError(f"{name!r} is not an ERFNet parameter name")
    return renamed


def from_zoo_name(name):
    """This project's name for a zoo parameter name, or None when `name` is not one."""
    return _renamed(name, {zoo: ours for ours, zoo in zoo_module_names().items()})


def is_project_name(name):
    return _renamed(name, zoo_module_names()) is not None


def translate_zoo_names(arrays, source, notes):
    """`arrays` under this project's names and whether they came under the zoo's. A file mixing both
    namings is refused; names in neither are left for the strict check to report."""
    zoo = [name for name in arrays if from_zoo_name(name) is not None]
    if not zoo:
        return arrays, False
    ours = [name for name in arrays if is_project_name(name)]
    if ours:
        raise UserError(f"{source}: mixes the MindSpore model zoo's names ({', '.join(zoo[:SHOWN])}, ...) with "
                        f"this project's ({', '.join(ours[:SHOWN])}, ...); a checkpoint holds one network")
    notes.append(f"MindSpore model zoo names (research/cv/erfnet): read {len(zoo)} tensors as this project's "
                 f"(encoder.down1 -> encoder.initial_block, decoder.pred -> decoder.output_conv, ...)")
    return {from_zoo_name(name) or name: array for name, array in arrays.items()}, True


def zoo_arrays(weights):
    """The weights' arrays under the zoo's names, in the network's order."""
    return {to_zoo_name(name): array for name, array in weights.arrays.items()}
