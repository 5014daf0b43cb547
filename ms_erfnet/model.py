"""ERFNet in MindSpore, built from the shared layer table. Parameter names mirror erfnet_pytorch's
state_dict keys (`encoder.layers.7.conv3x1_2.weight`), with MindSpore's BatchNorm names
(`gamma`, `beta`, `moving_mean`, `moving_variance`)."""
from dataclasses import dataclass

import mindspore.nn as nn

from facts.spec import DROPOUT_MODES, layer_table
from ms_erfnet.blocks import DownsamplerBlock, NonBottleneck1d, UpsamplerBlock, dropout
from ms_erfnet.seeded_dropout import DropoutRandomness, SeededDropout


def dropout_rates(overrides):
    """erfnet_pytorch's rates per dropout group (enc64, enc128, decoder), with `overrides` applied."""
    rates = dict(layer_table().dropout_defaults)
    unknown = set(overrides or {}) - set(rates)
    if unknown:
        raise ValueError(f"dropout: unknown group(s) {sorted(unknown)}; groups are {sorted(rates)}")
    for group, rate in (overrides or {}).items():
        if not 0 <= rate < 1:
            raise ValueError(f"dropout.{group} must be in [0, 1), not {rate}")
        rates[group] = float(rate)
    return rates


@dataclass(frozen=True)
class Layers:
    """The layer choices of one network: dropout rates by group, dropout mode, upsampler alignment, seeded dropout
    (training's) or MindSpore's, the lean convolution gradients (the CPU train step's) or MindSpore's."""
    rates: dict
    dropout_mode: str
    upsample_align: str
    seeded_dropout: bool
    lean_conv_gradients: bool


def _cells(blocks, layers, stride):
    """The cells of the layer-table rows `blocks`, entered at `stride` (the input's downsampling), and the stride
    after them."""
    eps, cells = layer_table().batchnorm_eps, []
    for block in blocks:
        if block.kind == "downsampler":
            cells.append(DownsamplerBlock(block.in_channels, block.out_channels, eps))
            stride *= 2
        elif block.kind == "upsampler":
            cells.append(UpsamplerBlock(block.in_channels, block.out_channels, eps, layers.upsample_align))
            stride //= 2
        else:
            drop = dropout(layers.rates[block.dropout_group], layers.dropout_mode, layers.seeded_dropout,
                           block.in_channels, stride)
            cells.append(NonBottleneck1d(block.in_channels, block.dilation, drop, eps, layers.lean_conv_gradients))
    return cells, stride


class Encoder(nn.Cell):
    def __init__(self, num_classes, layers):
        super().__init__()
        table = layer_table()
        (self.initial_block,), stride = _cells([table.initial_block], layers, 1)
        cells, self.stride = _cells(table.encoder_layers, layers, stride)
        self.layers = nn.CellList(cells)
        self.output_conv = nn.Conv2d(table.encoder_head_in, num_classes, 1, has_bias=True)

    def construct(self, x, predict=False):
        y = self.initial_block(x)
        for layer in self.layers:
            y = layer(y)
        if predict:
            y = self.output_conv(y)
        return y


class Decoder(nn.Cell):
    def __init__(self, num_classes, layers, stride):
        super().__init__()
        table = layer_table()
        self.layers = nn.CellList(_cells(table.decoder_layers, layers, stride)[0])
        self.output_conv = nn.Conv2dTranspose(table.decoder_head_in, num_classes, 2, stride=2, pad_mode="valid",
                                              has_bias=True)

    def construct(self, x):
        y = x
        for layer in self.layers:
            y = layer(y)
        return self.output_conv(y)


def seeded_dropouts(part):
    """The SeededDropout cells of `part` (the encoder or the decoder) in forward order."""
    return [cell for _, cell in part.cells_and_names() if isinstance(cell, SeededDropout)]


class ERFNet(nn.Cell):
    """ERFNet for `num_classes` classes (20 on Cityscapes: 19 trainIds and void).

    dropout: rates by group (`enc64`, `enc128`, `decoder`) overriding erfnet_pytorch's 0.03 / 0.3 / 0.
    dropout_mode: "channel" (whole channels, as PyTorch's Dropout2d) or "element" (the model zoo's port).
    upsample_align: "torch" (erfnet_pytorch) or "zoo" (the model zoo's port, shifted by one pixel).
    dropout_seed: None for MindSpore's dropout cells; else (the network training runs) SeededDropout cells whose
    masks `dropout_randomness` (ms_erfnet.seeded_dropout.DropoutRandomness) draws from this seed.
    lean_conv_gradients: the non-bottleneck blocks' convolutions as LeanConv2d (the CPU train step's gradients).
    construct(x, only_encode=False): only_encode gives the encoder with its 1x1 head, at 1/8 resolution.
    """

    def __init__(self, num_classes=20, dropout=None, dropout_mode="channel", upsample_align="torch",
                 dropout_seed=None, lean_conv_gradients=False):
        super().__init__()
        if dropout_mode not in DROPOUT_MODES:
            raise ValueError(f"dropout_mode must be one of {DROPOUT_MODES}, not {dropout_mode!r}")
        self.num_classes = num_classes
        self.upsample_align = upsample_align
        layers = Layers(dropout_rates(dropout), dropout_mode, upsample_align, dropout_seed is not None,
                        bool(lean_conv_gradients))
        self.encoder = Encoder(num_classes, layers)
        self.decoder = Decoder(num_classes, layers, self.encoder.stride)
        self.dropout_randomness = None if dropout_seed is None else DropoutRandomness(
            dropout_seed, seeded_dropouts(self.encoder), seeded_dropouts(self.decoder))

    def construct(self, x, only_encode=False):
        if only_encode:
            return self.encoder(x, True)
        return self.decoder(self.encoder(x))
