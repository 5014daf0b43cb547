"""ms_erfnet's dropout modes, measured: "element" drops single values as the model zoo's port does, "channel" drops
whole channels as erfnet_pytorch's Dropout2d does; both scale the kept values by 1 / (1 - p) and vanish in eval
mode. The zoo's stage-3 rate 0.2 for the 128-channel blocks is an ordinary override."""
import mindspore as ms
import numpy as np
import pytest

from ms_erfnet import ERFNet

SHAPE = (4, 128, 64, 64)
SIGMAS = 6


def dropped(cell, train=True):
    cell.set_train(train)
    return cell(ms.Tensor(np.ones(SHAPE, np.float32))).asnumpy()


def assert_rate(zeros, rate, count):
    assert abs(zeros - rate) <= SIGMAS * np.sqrt(rate * (1 - rate) / count), (zeros, rate)


@pytest.mark.parametrize("layer,rate", [(1, 0.03), (7, 0.2), (14, 0.2)])
def test_element_mode_drops_single_values_at_the_groups_rate(layer, rate):
    net = ERFNet(20, dropout={"enc128": 0.2}, dropout_mode="element")
    out = dropped(net.encoder.layers[layer].dropout)
    assert_rate(float((out == 0).mean()), rate, out.size)
    np.testing.assert_allclose(out[out != 0], 1 / (1 - rate), rtol=1e-6)
    per_plane = (out == 0).mean(axis=(2, 3))
    assert per_plane.max() < 0.5 and per_plane.min() < rate + 0.05 and per_plane.max() > 0


def test_channel_mode_drops_whole_channels():
    net = ERFNet(20, dropout_mode="channel")
    out = dropped(net.encoder.layers[7].dropout)
    planes = out.reshape(SHAPE[0] * SHAPE[1], -1)
    assert np.all((planes == 0).all(axis=1) | (planes != 0).all(axis=1))
    assert_rate(float((planes[:, 0] == 0).mean()), 0.3, planes.shape[0])
    np.testing.assert_allclose(out[out != 0], 1 / 0.7, rtol=1e-6)


@pytest.mark.parametrize("mode", ["element", "channel"])
def test_no_dropout_in_eval_mode(mode):
    net = ERFNet(20, dropout_mode=mode)
    assert np.all(dropped(net.encoder.layers[7].dropout, train=False) == 1)
