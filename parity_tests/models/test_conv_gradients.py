"""ms_erfnet/lean_conv.py, the hand-written gradients of the 3x1/1x3 convolutions in the CPU train step, against
MindSpore's own autograd of the cells they replace: both kinds at random shapes, dilations, batches and seeds,
the convolutions left alone, and the whole network (same forward bit for bit, same Parameters, same gradients
to float32 rounding)."""
import mindspore as ms
import mindspore.nn as nn
import numpy as np
import pytest
from hypothesis import given, strategies as st

import ms_erfnet
from ms_erfnet.lean_conv import LeanConv2d, same_size

RELATIVE = 1e-5  # of the largest gradient of each tensor: float32 rounding of sums over up to C*kh*kw*H*W terms


def conv_of(kind, channels, out_channels, dilation):
    """An ERFNet convolution of `kind` as ms_erfnet.blocks and ms_erfnet.model build it."""
    if kind == "3x1":
        return nn.Conv2d(channels, channels, (3, 1), pad_mode="pad", padding=(dilation, dilation, 0, 0),
                         dilation=(dilation, 1), has_bias=True)
    if kind == "1x3":
        return nn.Conv2d(channels, channels, (1, 3), pad_mode="pad", padding=(0, 0, dilation, dilation),
                         dilation=(1, dilation), has_bias=True)
    if kind == "downsampler":
        return nn.Conv2d(channels, out_channels, 3, stride=2, pad_mode="pad", padding=1, has_bias=True)
    if kind in ("upsampler torch", "upsampler zoo"):
        trim = (1, 0, 1, 0) if kind.endswith("torch") else (0, 1, 0, 1)
        return nn.Conv2dTranspose(channels, out_channels, 3, stride=2, pad_mode="pad", padding=trim, has_bias=True)
    return nn.Conv2dTranspose(channels, out_channels, 2, stride=2, pad_mode="valid", has_bias=True)


def gradients(cell, x, dout):
    """(output, d<output . dout>/dx, per-Parameter gradients) by MindSpore's autograd of `cell`."""
    function = ms.value_and_grad(lambda images: (cell(images) * dout).sum(), 0, cell.trainable_params())
    _, (dx, dparams) = function(x)
    return cell(x).asnumpy(), dx.asnumpy(), [grad.asnumpy() for grad in dparams]


def assert_close(ours, expected):
    assert ours.shape == expected.shape
    assert np.abs(ours - expected).max() <= RELATIVE * max(np.abs(expected).max(), 1e-30)


@given(kind=st.sampled_from(["3x1", "1x3"]), batch=st.integers(1, 3), height=st.integers(1, 12),
       width=st.integers(1, 12), channels=st.integers(1, 6), dilation=st.sampled_from([1, 2, 4, 16]),
       seed=st.integers(0, 2 ** 31 - 1))
def test_the_3x1_and_1x3_convolutions_have_mindspores_gradients(kind, batch, height, width, channels, dilation, seed):
    rng = np.random.default_rng(seed)
    conv = conv_of(kind, channels, channels, dilation)
    for parameter in conv.trainable_params():
        parameter.set_data(ms.Tensor(rng.standard_normal(parameter.shape).astype(np.float32)))
    x = ms.Tensor(rng.standard_normal((batch, channels, height, width)).astype(np.float32))
    dout = ms.Tensor(rng.standard_normal(conv(x).shape).astype(np.float32))
    expected_out, expected_dx, expected_dparams = gradients(conv, x, dout)
    lean = LeanConv2d(conv)
    assert [p is q for p, q in zip(lean.trainable_params(), conv.trainable_params())] == [True, True]
    out, dx, dparams = gradients(lean, x, dout)
    np.testing.assert_array_equal(out, expected_out)
    assert_close(dx, expected_dx)
    for ours, expected in zip(dparams, expected_dparams):
        assert_close(ours, expected)


@pytest.mark.parametrize("kind", ["downsampler", "upsampler torch", "upsampler zoo", "output"])
def test_the_other_convolutions_keep_mindspores_own_gradients(kind):
    assert not same_size(conv_of(kind, 4, 4, 1))
    assert not same_size(nn.Conv2d(4, 4, 1, has_bias=True)), "the encoder's 1x1 head"
    assert not same_size(nn.Conv2d(4, 4, (3, 1), pad_mode="pad", padding=(1, 0, 0, 0))), "a size-changing one"


def test_the_whole_network_keeps_its_forward_parameters_and_gradients():
    rng = np.random.default_rng(0)
    reference, net = ms_erfnet.ERFNet(20), ms_erfnet.ERFNet(20, lean_conv_gradients=True)
    lean = [cell for _, cell in net.cells_and_names() if isinstance(cell, LeanConv2d)]
    assert len(lean) == 68, "the 4 convolutions of each of the 17 non-bottleneck blocks"
    assert [(p.name, p.shape) for p in net.get_parameters()] == [(p.name, p.shape) for p in reference.get_parameters()]
    ms.load_param_into_net(net, {p.name: ms.Parameter(p.data.copy(), p.name) for p in reference.get_parameters()})
    for model in (reference, net):
        model.set_train(False)
    x = ms.Tensor(rng.random((1, 3, 16, 32), dtype=np.float32))
    np.testing.assert_array_equal(net(x).asnumpy(), reference(x).asnumpy())
    dout = ms.Tensor(rng.standard_normal((1, 20, 16, 32)).astype(np.float32))
    names = [p.name for p in reference.trainable_params()]

    def grads(model):
        params = {p.name: p for p in model.trainable_params()}
        function = ms.grad(lambda images: (model(images) * dout).sum(), None, [params[n] for n in names])
        return [grad.asnumpy() for grad in function(x)]

    for name, ours, expected in zip(names, grads(net), grads(reference)):
        assert np.abs(ours - expected).max() <= 1e-4 * np.abs(expected).max(), name
