"""`erfnet export`: the written MINDIR and ONNX files, loaded independently, compute what erfnet_pytorch's
network computes in float64 (both upsampler alignments); a disagreeing file is never written."""
import mindspore as ms
import mindspore.nn as nn
import numpy as np
import onnxruntime
import pytest
import torch

import eval.export
from convert.torch_align import align_reference
from convert.network import load_full_network
from erfnet.cli import main
from helpers.weight_fixtures import SEED
from torch_ref.random_weights import random_reference_net

BATCH, HEIGHT, WIDTH = 2, 32, 64
TOLERANCE = 1e-4


def reference_output(images, alignment):
    """The weights' own network (torch_ref, random_reference_net(20, SEED)) in float64."""
    net = align_reference(random_reference_net(20, SEED), alignment).double()
    with torch.no_grad():
        return net(torch.from_numpy(images.astype(np.float64))).numpy()


def fresh_images():
    return np.random.default_rng(99).random((BATCH, 3, HEIGHT, WIDTH), dtype=np.float32)


def export(capsys, weights, file_format, out, *extra):
    code = main(["export", "--weights", str(weights), "--format", file_format, "--out", str(out), "--batch",
                 str(BATCH), "--height", str(HEIGHT), "--width", str(WIDTH), *extra])
    return (code, *capsys.readouterr())


def relative_error(actual, expected):
    return np.abs(actual - expected).max() / np.abs(expected).max()


@pytest.mark.parametrize("alignment", ["torch", "zoo"])
def test_onnx_file_computes_the_reference_network_in_onnxruntime(weight_files, tmp_path, capsys, alignment):
    out = tmp_path / "erfnet.onnx"
    code, stdout, _ = export(capsys, weight_files[alignment], "onnx", out)
    assert code == 0 and "max abs error" in stdout and f"alignment {alignment}" in stdout
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (given,), (produced,) = session.get_inputs(), session.get_outputs()
    assert (given.name, given.shape, produced.name) == ("image", [BATCH, 3, HEIGHT, WIDTH], "logits")
    images = fresh_images()
    logits = session.run(None, {"image": images})[0]
    assert logits.shape == (BATCH, 20, HEIGHT, WIDTH)
    assert relative_error(logits, reference_output(images, alignment)) < TOLERANCE


def test_mindir_file_computes_the_reference_network_in_mindspore(weight_files, tmp_path, capsys):
    out = tmp_path / "erfnet.mindir"
    code, stdout, _ = export(capsys, weight_files["torch"], "mindir", out)
    assert code == 0 and "relative" in stdout
    images = fresh_images()
    logits = nn.GraphCell(ms.load(str(out)))(ms.Tensor(images)).asnumpy()
    assert relative_error(logits, reference_output(images, "torch")) < TOLERANCE


def test_mindspores_own_onnx_needs_the_repair(weight_files, tmp_path):
    """MindSpore 2.7.1 and 2.10.0 write ConvTranspose output_shape wrongly (the repair drops it only when it is
    longer than the kernel's dimensions); if a MindSpore update fixes it, this test says so."""
    net = load_full_network(weight_files["torch"])[0]
    raw = tmp_path / "raw.onnx"
    ms.onnx.export(net, ms.Tensor(fresh_images()), file_name=str(raw))
    with pytest.raises(Exception, match="output_shape has incorrect size"):
        onnxruntime.InferenceSession(str(raw), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("reorder_pads", [True, False])
def test_the_pads_probe_decides_a_repair_that_is_right_only_where_it_applies(tmp_path, reorder_pads):
    """The probe finds MindSpore's own pads order on this release; repairing with what the probe found gives
    MindSpore's numbers in onnxruntime, the other choice does not (a 3x1 and a 1x3 convolution, padded 1)."""
    import onnx

    from eval.onnx_repair import INPUT_NAME, repair
    net = nn.SequentialCell([nn.Conv2d(2, 3, (3, 1), pad_mode="pad", padding=(1, 1, 0, 0)),
                             nn.Conv2d(3, 2, (1, 3), pad_mode="pad", padding=(0, 0, 1, 1))])
    images = fresh_images()[:, :2]
    expected = net(ms.Tensor(images)).asnumpy()
    raw = tmp_path / "raw.onnx"
    ms.onnx.export(net, ms.Tensor(images), file_name=str(raw), input_names=[INPUT_NAME])
    repaired = tmp_path / "repaired.onnx"
    applies = reorder_pads == eval.export.pads_in_mindspore_order()
    try:
        onnx.save(repair(onnx.load(str(raw)), reorder_pads), str(repaired))
        session = onnxruntime.InferenceSession(str(repaired), providers=["CPUExecutionProvider"])
        right = relative_error(session.run(None, {INPUT_NAME: images})[0], expected) < TOLERANCE
    except Exception:  # shapes the checker or onnxruntime refuse
        right = False
    assert right == applies


def test_a_file_that_disagrees_with_the_network_is_not_written(weight_files, tmp_path, capsys, monkeypatch):
    def off_by_a_thousandth(net, sample, temporary):
        temporary.write_bytes(b"a model file")
        return net(ms.Tensor(sample)).asnumpy() * np.float32(1.001)

    monkeypatch.setattr(eval.export, "_mindir", off_by_a_thousandth)
    code, _, stderr = export(capsys, weight_files["torch"], "mindir", tmp_path / "erfnet.mindir")
    assert code == 2 and "above 0.0001" in stderr and "nothing written" in stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("case, message", [
    ("encoder", "encoder-only"), ("suffix", "must end in .onnx"), ("height", "multiple of 8"),
])
def test_user_mistakes_get_one_line_and_exit_code_2(weight_files, tmp_path, capsys, case, message):
    weights = weight_files["encoder" if case == "encoder" else "torch"]
    out = tmp_path / ("erfnet.mindir" if case == "suffix" else "erfnet.onnx")
    extra = ["--height", "60"] if case == "height" else []
    code = main(["export", "--weights", str(weights), "--format", "onnx", "--out", str(out), *extra])
    stderr = capsys.readouterr().err
    assert code == 2 and message in stderr and len(stderr.strip().splitlines()) == 1
    assert not out.exists()
