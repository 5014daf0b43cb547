"""ERFNet's three building blocks as MindSpore cells, with erfnet_pytorch's attribute names.

Convolutions use pad_mode "pad" with explicit (top, bottom, left, right) padding so every size matches
PyTorch's. BatchNorm momentum 0.9 here is PyTorch's 0.1 (MindSpore weights the running value).
"""
import mindspore.nn as nn
import mindspore.ops as ops

from facts.spec import UPSAMPLE_ALIGNMENTS
from ms_erfnet.lean_conv import LeanConv2d
from ms_erfnet.seeded_dropout import SeededDropout


def batchnorm(channels, eps):
    return nn.BatchNorm2d(channels, eps=eps, momentum=0.9)


def dropout(rate, mode, seeded, channels, stride):
    """Channel dropout (PyTorch's Dropout2d, erfnet_pytorch) or element-wise (the model zoo's port): MindSpore's,
    or with `seeded` a SeededDropout for `channels` at `stride` (training's, ms_erfnet/seeded_dropout.py)."""
    if rate == 0:
        return nn.Identity()
    if seeded:
        return SeededDropout(rate, mode, channels, stride)
    return nn.Dropout2d(p=rate) if mode == "channel" else nn.Dropout(p=rate)


def same_size_conv(channels, kernel, padding, dilation, lean):
    """A stride-1 nn.Conv2d that keeps the size; with `lean` inside a LeanConv2d (hand-written gradients for the
    CPU train step, ms_erfnet/lean_conv.py), which computes the same forward."""
    conv = nn.Conv2d(channels, channels, kernel, pad_mode="pad", padding=padding, dilation=dilation, has_bias=True)
    return LeanConv2d(conv) if lean else conv


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
    """`dropout` is the block's dropout cell (`dropout` above); `lean_conv_gradients` makes its four convolutions
    LeanConv2d."""

    def __init__(self, channels, dilation, dropout, eps, lean_conv_gradients=False):
        super().__init__()
        d, lean = dilation, lean_conv_gradients
        self.conv3x1_1 = same_size_conv(channels, (3, 1), (1, 1, 0, 0), 1, lean)
        self.conv1x3_1 = same_size_conv(channels, (1, 3), (0, 0, 1, 1), 1, lean)
        self.bn1 = batchnorm(channels, eps)
        self.conv3x1_2 = same_size_conv(channels, (3, 1), (d, d, 0, 0), (d, 1), lean)
        self.conv1x3_2 = same_size_conv(channels, (1, 3), (0, 0, d, d), (1, d), lean)
        self.bn2 = batchnorm(channels, eps)
        self.dropout = dropout

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
