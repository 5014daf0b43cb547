"""Hand-written gradients for ERFNet's 3x1 and 1x3 convolutions, for the CPU train step (ms_erfnet.ERFNet's
`lean_conv_gradients`), so that the compiled step holds no per-node convolution buffers for them.

Why: MindSpore 2.10's CPU kernels Conv2DBackpropInput and Conv2DBackpropFilter (oneDNN's gemm convolution on
plain NCHW) each keep an im2col buffer, C_in x kh x kw x H_out x W_out floats, for as long as the compiled
graph lives, one per graph node: in a graph of 8 equal 3x1 convolutions of 64 channels at 128x256 every
further Conv2DBackpropInput or Conv2DBackpropFilter node adds 25 MB that stays, the forward Conv2D none.
The train step has one of each per convolution: at 512x1024 batch 1 these buffers were 3.2 GB of the step's
5.2 GB peak. The 68 stride-1 convolutions of the 17 non-bottleneck blocks hold nearly all of it; swapping the
downsamplers' and transposed convolutions' gradients too saved another 130 MB (batch 1) to 170 MB (batch 4) at
512x1024 for twice the code, so they keep MindSpore's (docs/performance.md).

Here the gradients are made of forward Conv2D kernels and matmuls, whose temporaries are ordinary tensors of
MindSpore's memory pool, alive only while they are used:
- im2col(t): one forward convolution of every channel of t on its own with a one-hot kernel per tap (exact:
  each output is 1 x one input; MindSpore's `ops.unfold` gives the same numbers, slower);
- dx = Conv2D(dout, W flipped and transposed) (stride 1, "same" padding);
- dW = dout . im2col(x)^T.
The forward kernel is the one nn.Conv2d runs, so outputs are bit-identical; gradients agree with MindSpore's
to float32 rounding (parity_tests/models/test_conv_gradients.py). A LeanConv2d holds its convolution's Parameters under
the same names, so optimizers, checkpoints and the converter see no difference.
"""
import mindspore as ms
import mindspore.nn as nn
import mindspore.ops as ops
import numpy as np


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


class Im2Col(nn.Cell):
    """`construct(t)`: (N, C, H, W) -> (N, C x kh x kw, H x W), rows ordered as the weights' (c, kh, kw)."""

    def __init__(self, kernel_size, dilation, padding):
        super().__init__()
        kh, kw = kernel_size
        taps = np.zeros((kh * kw, 1, kh, kw), np.float32)
        taps[np.arange(kh * kw), 0, np.arange(kh * kw) // kw, np.arange(kh * kw) % kw] = 1
        self.taps, self.count = ms.Tensor(taps), kh * kw
        self.pick = ops.Conv2D(kh * kw, kernel_size, pad_mode="pad", pad=padding, dilation=dilation)

    def construct(self, t):
        n, c = t.shape[0], t.shape[1]
        columns = self.pick(t.reshape(n * c, 1, t.shape[2], t.shape[3]), self.taps)
        return columns.reshape(n, c * self.count, -1)


def same_size(conv):
    """True for an nn.Conv2d of stride 1, one group and the symmetric padding that keeps the size (ERFNet's 3x1 and
    1x3 convolutions, dilated or not)."""
    if not isinstance(conv, nn.Conv2d) or conv.pad_mode != "pad" or conv.group != 1 or _pair(conv.stride) != (1, 1):
        return False
    padding = (conv.padding,) * 4 if isinstance(conv.padding, int) else tuple(conv.padding)
    kernel, dilation = _pair(conv.kernel_size), _pair(conv.dilation)
    return all(padding[2 * axis] == padding[2 * axis + 1] == dilation[axis] * (kernel[axis] - 1) // 2
               and dilation[axis] * (kernel[axis] - 1) % 2 == 0 for axis in (0, 1))


class ConvolutionGradient(nn.Cell):
    """`construct(x, weight)`: the convolution of `conv` (same_size) without bias; `bprop` as in the module doc."""

    def __init__(self, conv):
        super().__init__()
        if not same_size(conv):
            raise ValueError(f"expected a stride-1 convolution that keeps the size: {conv}")
        kernel, dilation = _pair(conv.kernel_size), _pair(conv.dilation)
        self.conv2d = ops.Conv2D(conv.out_channels, kernel, pad_mode="pad", pad=conv.padding, dilation=dilation)
        self.im2col = Im2Col(kernel, dilation, conv.padding)
        self.matmul = ops.BatchMatMul(transpose_b=True)
        # dx = Conv2D(dout, W[o, i, a, b] -> W'[i, o, kh-1-a, kw-1-b]): the flip and transpose as one gather
        order = np.arange(int(np.prod(conv.weight.shape))).reshape(conv.weight.shape)
        self.flip = ms.Tensor(order[:, :, ::-1, ::-1].transpose(1, 0, 2, 3).reshape(-1).astype(np.int32))
        self.flipped_shape = (conv.in_channels, conv.out_channels) + kernel
        self.input_gradient = ops.Conv2D(conv.in_channels, kernel, pad_mode="pad", pad=conv.padding,
                                         dilation=dilation)

    def construct(self, x, weight):
        return self.conv2d(x, weight)

    def bprop(self, x, weight, out, dout):
        flipped = ops.gather(weight.reshape(-1), self.flip, 0).reshape(self.flipped_shape)
        dx = self.input_gradient(dout, flipped)
        # im2col(x) waits for dout: scheduled earlier, every layer's copy would sit in the pool at once.
        columns = self.im2col(ops.depend(x, dout))
        batch, channels = dout.shape[0], dout.shape[1]
        per_image = self.matmul(dout.reshape(batch, channels, -1), columns)
        dweight = per_image.reshape(per_image.shape[1:]) if batch == 1 else per_image.sum(0)
        return dx, dweight.reshape(weight.shape)


class LeanConv2d(nn.Cell):
    """Stands in for a same_size nn.Conv2d: the same weight and bias Parameters, the same forward, the gradients
    above."""

    def __init__(self, conv):
        super().__init__()
        self.conv = ConvolutionGradient(conv)
        self.weight, self.has_bias, self.bias = conv.weight, conv.has_bias, conv.bias
        # the settings of the convolution it computes, as nn.Conv2d names them
        self.in_channels, self.out_channels = conv.in_channels, conv.out_channels
        self.kernel_size, self.padding, self.dilation = conv.kernel_size, conv.padding, conv.dilation
        self.bias_add = ops.BiasAdd()

    def construct(self, x):
        y = self.conv(x, self.weight)
        return self.bias_add(y, self.bias) if self.has_bias else y
