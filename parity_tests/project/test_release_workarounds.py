"""Workarounds for what a MindSpore release does differently, each shown needed where it is applied: the probe
finds the behaviour on this release, and the result is right with the workaround and wrong without it.
(The ONNX pads probe: test_export_roundtrip.py.)"""
import mindspore as ms
import numpy as np
import pytest
import torch

from eval.runtime import _ExportOnce
from ms_erfnet.model import ERFNet
from train.optim import TorchAdam, fused_adam_adds_eps_early


@pytest.mark.parametrize("correct_eps", [True, False])
def test_the_adam_eps_correction_is_right_exactly_where_the_probe_finds_the_fused_kernels_early_eps(correct_eps):
    """Gradients near eps, where the two formulas part (0.24 lr against torch's 0.91 lr at 1e-7)."""
    start = np.array([0.5, -0.25, 1.0], np.float32)
    grads = [np.array([1e-7, -3e-8, 2e-6], np.float32), np.array([-5e-8, 1e-7, 1e-8], np.float32)]
    ours = ms.Parameter(ms.Tensor(start.copy()), name="w")
    optimizer = TorchAdam([ours], 1e-2, 0.0, correct_eps=correct_eps)
    reference = torch.nn.Parameter(torch.from_numpy(start.copy()))
    torch_optimizer = torch.optim.Adam([reference], 1e-2, (0.9, 0.999), eps=1e-8)
    for grad in grads:
        optimizer((ms.Tensor(grad),))
        reference.grad = torch.from_numpy(grad)
        torch_optimizer.step()
    matches = np.allclose(ours.asnumpy(), reference.detach().numpy(), rtol=0, atol=1e-6)
    assert matches == (correct_eps == fused_adam_adds_eps_early())


def test_a_second_onnx_export_of_one_cell_fails_where_a_new_cell_exports(tmp_path):
    """The failure eval.runtime._ExportOnce avoids (a damaged cache file makes `--runtime onnxruntime` export the
    same network again in one process). Wrapping in a new Cell costs nothing where a release does not fail."""
    net = ERFNet(20)
    net.set_train(False)
    images = ms.Tensor(np.zeros((1, 3, 32, 64), np.float32))
    ms.onnx.export(net, images, file_name=str(tmp_path / "first.onnx"))
    with pytest.raises(RuntimeError, match="out of range"):
        ms.onnx.export(net, images, file_name=str(tmp_path / "second.onnx"))
    ms.onnx.export(_ExportOnce(net), images, file_name=str(tmp_path / "third.onnx"))
    assert (tmp_path / "third.onnx").stat().st_size > 1e6
