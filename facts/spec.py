"""ERFNet's facts as the port reads them: the layer table (layers.yaml), the class weights
(class_weights.yaml), and the value sets and size rule of the network they describe.

The PyTorch reference (torch_ref) keeps its own copy of erfnet_pytorch's facts; tests check this table and
these weights against it.
"""
import functools
from dataclasses import dataclass
from importlib import resources

import yaml

from facts.errors import UserError

BLOCK_KINDS = ("downsampler", "non_bottleneck_1d", "upsampler")
UPSAMPLE_ALIGNMENTS = ("torch", "zoo")  # rows 1..2H of the unpadded transposed conv (erfnet_pytorch), or 0..2H-1
DROPOUT_MODES = ("channel", "element")  # whole channels (erfnet_pytorch's Dropout2d) or elements (the zoo port)
NETWORKS = ("encoder", "full")          # what a stage trains: the encoder with its 1x1 head, or the whole network
STRIDE = 8                              # ERFNet downsamples by 8: input sizes are multiples of it


def stride_padding(height, width):
    """(rows, columns) to add at the bottom and right so that both sides become multiples of STRIDE."""
    return -height % STRIDE, -width % STRIDE


def check_size(name, value):
    """Raise UserError unless `value` (an input height or width) is a positive multiple of STRIDE."""
    if isinstance(value, bool) or not isinstance(value, int) or value < STRIDE or value % STRIDE:
        raise UserError(f"{name} {value}: must be a positive multiple of {STRIDE} (ERFNet downsamples by {STRIDE})")
    return value


@dataclass(frozen=True)
class Block:
    """One row of the layer table."""
    kind: str
    in_channels: int
    out_channels: int
    dilation: int = 1
    dropout_group: str = ""


@dataclass(frozen=True)
class LayerTable:
    initial_block: Block
    encoder_layers: tuple
    encoder_head_in: int
    decoder_layers: tuple
    decoder_head_in: int
    dropout_defaults: dict
    batchnorm_eps: float


def _data(name):
    return yaml.safe_load(resources.files("facts").joinpath(name).read_text())


def _block(row):
    kind = row["block"]
    if kind not in BLOCK_KINDS:
        raise ValueError(f"layers.yaml: unknown block kind {kind!r}")
    if kind == "non_bottleneck_1d":
        return Block(kind, row["channels"], row["channels"], row["dilation"], row["dropout"])
    return Block(kind, row["in"], row["out"])


@functools.cache
def layer_table():
    data = _data("layers.yaml")
    return LayerTable(
        initial_block=_block(data["encoder"]["initial_block"]),
        encoder_layers=tuple(_block(row) for row in data["encoder"]["layers"]),
        encoder_head_in=data["encoder"]["output_conv"]["in"],
        decoder_layers=tuple(_block(row) for row in data["decoder"]["layers"]),
        decoder_head_in=data["decoder"]["output_conv"]["in"],
        dropout_defaults=dict(data["dropout_defaults"]),
        batchnorm_eps=float(data["batchnorm_eps"]),
    )


@functools.cache
def class_weights(kind):
    """The 20 loss weights for `kind` in NETWORKS (index 19, void, weighs 0)."""
    weights = _data("class_weights.yaml")
    if kind not in weights:
        raise ValueError(f"class weights: kind must be one of {sorted(weights)}, not {kind!r}")
    return tuple(float(w) for w in weights[kind])


@functools.cache
def zoo_module_names():
    """This project's module path -> the MindSpore model zoo port's, for every block and both heads
    (`encoder.layers.6` -> `encoder.down3`, `encoder.output_conv` -> `pred`), from the layer table's `zoo`
    fields."""
    data = _data("layers.yaml")
    rows = {"encoder.initial_block": data["encoder"]["initial_block"]}
    rows.update({f"encoder.layers.{i}": row for i, row in enumerate(data["encoder"]["layers"])})
    rows["encoder.output_conv"] = data["encoder"]["output_conv"]
    rows.update({f"decoder.layers.{i}": row for i, row in enumerate(data["decoder"]["layers"])})
    rows["decoder.output_conv"] = data["decoder"]["output_conv"]
    missing = [module for module, row in rows.items() if not row.get("zoo")]
    if missing:
        raise ValueError(f"layers.yaml: no `zoo` name for {', '.join(missing)}")
    names = {module: row["zoo"] for module, row in rows.items()}
    repeated = sorted({name for name in names.values() if list(names.values()).count(name) > 1})
    if repeated:
        raise ValueError(f"layers.yaml: `zoo` names used twice: {', '.join(repeated)}")
    return names
