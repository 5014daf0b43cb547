"""ERFNet in MindSpore, built from the shared layer table. Parameter names mirror erfnet_pytorch's
state_dict keys (`encoder.layers.7.conv3x1_2.weight`), with MindSpore's BatchNorm names
(`gamma`, `beta`, `moving_mean`, `moving_variance`)."""
import mindspore.nn as nn

from facts.spec import DROPOUT_MODES, layer_table
from ms_erfnet.blocks import DownsamplerBlock, NonBottleneck1d, UpsamplerBlock


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


def _cell(block, rates, dropout_mode, upsample_align):
    eps = layer_table().batchnorm_eps
    if block.kind == "downsampler":
        return DownsamplerBlock(block.in_channels, block.out_channels, eps)
    if block.kind == "upsampler":
        return UpsamplerBlock(block.in_channels, block.out_channels, eps, upsample_align)
    return NonBottleneck1d(block.in_channels, block.dilation, rates[block.dropout_group], eps, dropout_mode)


class Encoder(nn.Cell):
    def __init__(self, num_classes, rates, dropout_mode):
        super().__init__()
        table = layer_table()
        self.initial_block = _cell(table.initial_block, rates, dropout_mode, "torch")
        self.layers = nn.CellList([_cell(block, rates, dropout_mode, "torch") for block in table.encoder_layers])
        self.output_conv = nn.Conv2d(table.encoder_head_in, num_classes, 1, has_bias=True)

    def construct(self, x, predict=False):
        y = self.initial_block(x)
        for layer in self.layers:
            y = layer(y)
        if predict:
            y = self.output_conv(y)
        return y


class Decoder(nn.Cell):
    def __init__(self, num_classes, rates, dropout_mode, upsample_align):
        super().__init__()
        table = layer_table()
        self.layers = nn.CellList([_cell(block, rates, dropout_mode, upsample_align)
                                   for block in table.decoder_layers])
        self.output_conv = nn.Conv2dTranspose(table.decoder_head_in, num_classes, 2, stride=2, pad_mode="valid",
                                              has_bias=True)

    def construct(self, x):
        y = x
        for layer in self.layers:
            y = layer(y)
        return self.output_conv(y)


class ERFNet(nn.Cell):
    """ERFNet for `num_classes` classes (20 on Cityscapes: 19 trainIds and void).

    dropout: rates by group (`enc64`, `enc128`, `decoder`) overriding erfnet_pytorch's 0.03 / 0.3 / 0.
    dropout_mode: "channel" (whole channels, as PyTorch's Dropout2d) or "element" (the model zoo's port).
    upsample_align: "torch" (erfnet_pytorch) or "zoo" (the model zoo's port, shifted by one pixel).
    construct(x, only_encode=False): only_encode gives the encoder with its 1x1 head, at 1/8 resolution.
    """

    def __init__(self, num_classes=20, dropout=None, dropout_mode="channel", upsample_align="torch"):
        super().__init__()
        if dropout_mode not in DROPOUT_MODES:
            raise ValueError(f"dropout_mode must be one of {DROPOUT_MODES}, not {dropout_mode!r}")
        rates = dropout_rates(dropout)
        self.num_classes = num_classes
        self.upsample_align = upsample_align
        self.encoder = Encoder(num_classes, rates, dropout_mode)
        self.decoder = Decoder(num_classes, rates, dropout_mode, upsample_align)

    def construct(self, x, only_encode=False):
        if only_encode:
            return self.encoder(x, True)
        return self.decoder(self.encoder(x))
