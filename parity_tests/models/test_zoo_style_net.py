"""The zoo-style network of helpers/zoo_style_net.py against the published facts it is built from: its upsampler's
pad_mode "same" transposed convolution, its checkpoint names and its element-wise dropout."""
import mindspore as ms
import numpy as np
import pytest

from helpers.zoo_style_net import ZooBottleneck, ZooERFNet, ZooEncoderPred, ZooUpsampler, randomized


@pytest.mark.parametrize("height,width", [(4, 8), (5, 7)])
def test_same_padding_upsampler_keeps_the_first_rows_of_the_unpadded_transposed_conv(height, width):
    up = randomized(ZooUpsampler(4, 3), 0)
    x = np.random.default_rng(1).standard_normal((2, 4, height, width)).astype(np.float32)
    w = up.conv.weight.asnumpy().astype(np.float64)
    full = np.zeros((2, 3, 2 * height + 1, 2 * width + 1))
    for i in range(height):
        for j in range(width):
            full[:, :, 2 * i:2 * i + 3, 2 * j:2 * j + 3] += np.einsum("nc,cokl->nokl", x[:, :, i, j], w)
    full += up.conv.bias.asnumpy()[None, :, None, None]
    got = up.conv(ms.Tensor(x)).asnumpy()
    assert got.shape == (2, 3, 2 * height, 2 * width)
    np.testing.assert_allclose(got, full[:, :, :2 * height, :2 * width], rtol=0, atol=1e-5)


def test_zoo_checkpoint_names_are_the_published_ones():
    names = [p.name for p in ZooERFNet(20).get_parameters()]
    assert names[:3] == ["encoder.down1.conv.weight", "encoder.down1.conv.bias", "encoder.down1.bn.moving_mean"]
    assert "encoder.bottleneck13.conv1x3_2.weight" in names and "decoder.up2.bn.gamma" in names
    assert names[-2:] == ["decoder.pred.weight", "decoder.pred.bias"]
    assert [p.name for p in ZooEncoderPred(20).get_parameters()][-2:] == ["pred.weight", "pred.bias"]


def test_zoo_dropout_is_element_wise_in_training_only():
    block = ZooBottleneck(8, 0.3, 1)
    block.set_train(True)
    dropped = block.dropout(ms.Tensor(np.ones((4, 8, 32, 32), np.float32))).asnumpy()
    per_channel = (dropped == 0).mean(axis=(2, 3))
    assert 0.25 < (dropped == 0).mean() < 0.35 and per_channel.min() > 0.1 and per_channel.max() < 0.5
    block.set_train(False)
    assert np.all(block.dropout(ms.Tensor(np.ones((1, 8, 4, 4), np.float32))).asnumpy() == 1)
