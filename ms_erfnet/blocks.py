"""ERFNet's three building blocks as MindSpore cells, with erfnet_pytorch's attribute names.

Convolutions use pad_mode "pad" with explicit (top, bottom, left, right) padding so every size matches
PyTorch's. BatchNorm momentum 0.9 here is PyTorch's 0.1 (MindSpore weights the running value).
"""
import mindspore.nn as nn
import mindspore.ops as ops

from facts.spec import UPSAMPLE_ALIGNMENTS


def batchnorm(channels, eps):
    return nn.BatchNorm2d(channels, eps=eps, momentum=0.9)


def dropout(rate, mode):
    """Channel dropout (PyTorch's Dropout2d, erfnet_pytorch) or element-wise (the model zoo's port)."""
    if rate == 0:
        return nn.Identity()
    return nn.Dropout2d(p=rate) if mode == "channel" else nn.Dropout(p=rate)


class DownsamplerBlock(nn.Cell):
    def __init__(self, in_channels, out_channels, eps):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels - in_channels, 3, stride=2, pad_mode="pad", padding=1,
                              has_bias=True)
        self.pool = nn.MaxPool2d(kernel_size=2, stride=2)
        self.bn = batchnorm(out_channels, eps)

    def construct(self, x):
        return ops.relu(self.bn(ops.cat((self.conv(x), self.pool(x)), 1)))


class NonBottleneck1d(nn.Cell):
    def __init__(self, channels, dilation, dropout_rate, eps, dropout_mode="channel"):
        super().__init__()
        d = dilation
        self.conv3x1_1 = nn.Conv2d(channels, channels, (3, 1), pad_mode="pad", padding=(1, 1, 0, 0), has_bias=True)
        self.conv1x3_1 = nn.Conv2d(channels, channels, (1, 3), pad_mode="pad", padding=(0, 0, 1, 1), has_bias=True)
        self.bn1 = batchnorm(channels, eps)
        self.conv3x1_2 = nn.Conv2d(channels, channels, (3, 1), pad_mode="pad", padding=(d, d, 0, 0),
                                   dilation=(d, 1), has_bias=True)
        self.conv1x3_2 = nn.Conv2d(channels, channels, (1, 3), pad_mode="pad", padding=(0, 0, d, d),
                                   dilation=(1, d), has_bias=True)
        self.bn2 = batchnorm(channels, eps)
        self.dropout = dropout(dropout_rate, dropout_mode)

    def construct(self, x):
        y = ops.relu(self.conv3x1_1(x))
        y = ops.relu(self.bn1(self.conv1x3_1(y)))
        y = ops.relu(self.conv3x1_2(y))
        y = self.dropout(self.bn2(self.conv1x3_2(y)))
        return ops.relu(y + x)


class UpsamplerBlock(nn.Cell):
    """3x3 stride-2 transposed conv, BN, ReLU, doubling height and width.

    Unpadded, the transposed conv gives 2H+1 rows and columns; the asymmetric padding trims one of them, so the
    conv itself yields the 2H kept: `torch` alignment trims the first row and column (rows 1..2H, exactly
    PyTorch's padding=1, output_padding=1), `zoo` alignment the last (rows 0..2H-1, what the MindSpore model
    zoo's pad_mode "same" yields). (MindSpore's own output_padding differs from PyTorch's in the last row and
    column, so it is not used; cropping a 2H+1 output instead took 40 ms more per block at 64x128 input.)
    """

    def __init__(self, in_channels, out_channels, eps, upsample_align="torch"):
        super().__init__()
        if upsample_align not in UPSAMPLE_ALIGNMENTS:
            raise ValueError(f"upsample_align must be one of {UPSAMPLE_ALIGNMENTS}, not {upsample_align!r}")
        trim = (1, 0, 1, 0) if upsample_align == "torch" else (0, 1, 0, 1)
        self.conv = nn.Conv2dTranspose(in_channels, out_channels, 3, stride=2, pad_mode="pad", padding=trim,
                                       has_bias=True)
        self.bn = batchnorm(out_channels, eps)

    def construct(self, x):
        return ops.relu(self.bn(self.conv(x)))
