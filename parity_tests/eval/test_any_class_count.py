"""A network of any class count: the loss without a void channel against torch's ignore_index, the palette for
any count, the pictures infer writes, and weights of 19 and of 5 classes through convert, both parity modes (the
loss rows weighed uniformly: facts/loss_weights.py), export, eval and infer. The fault catalogue at 5 classes is test_fault_catalogue's; the folders layout is
test_own_data's."""
import json
import math

import mindspore as ms
import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st
from PIL import Image

from erfnet.cli import main
from eval.colours import class_palette, generated_palette
from eval.infer import kinds_for
from facts.errors import UserError
from facts.labels import palette
from facts.loss_weights import default_loss_weights
from helpers.upstream_weights import save_upstream
from ms_erfnet.loss import WeightedCrossEntropy


@given(st.integers(2, 7), st.booleans(), st.integers(0, 2 ** 32 - 1))
def test_loss_of_a_network_without_void_channel_is_torchs_with_ignore_index(classes, void_channel, seed):
    """K classes, label K ignored: a K-channel network's loss and gradient are torch's nll_loss with
    ignore_index=K; a (K+1)-channel network's are torch's with the void class weighing 0 (the same pixels)."""
    rng = np.random.default_rng(seed)
    channels = classes + void_channel
    logits = rng.normal(0, 3, (2, channels, 8, 16)).astype(np.float32)
    labels = rng.integers(0, classes + 1, (2, 8, 16)).astype(np.int32)
    labels.flat[0] = 0
    weights = rng.uniform(0.5, 5, classes)
    reference = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    target = torch.from_numpy(labels).long()
    if void_channel:
        expected = torch.nn.functional.nll_loss(torch.log_softmax(reference, 1), target,
                                                torch.tensor(np.append(weights, 0.0)))
    else:
        expected = torch.nn.functional.nll_loss(torch.log_softmax(reference, 1), target, torch.tensor(weights),
                                                ignore_index=classes)
    expected.backward()
    loss = WeightedCrossEntropy(tuple(weights) + (0.0,))
    ours = float(loss(ms.Tensor(logits), ms.Tensor(labels)).asnumpy())
    assert math.isclose(ours, float(expected.detach()), rel_tol=1e-5)
    gradient = ms.grad(lambda x: loss(x, ms.Tensor(labels)))(ms.Tensor(logits)).asnumpy()
    np.testing.assert_allclose(gradient, reference.grad.numpy(), rtol=0, atol=1e-5 * np.abs(reference.grad).max())


def test_the_loss_weights_without_data_are_published_for_20_classes_and_uniform_otherwise():
    weights, said = default_loss_weights("full", 20)
    assert weights[0] == pytest.approx(2.8149201869965) and weights[19] == 0 and "erfnet_pytorch" in said
    assert default_loss_weights("encoder", 5) == ((1.0,) * 5, "uniform class weights: no published weights for 5 "
                                                             "classes")


@pytest.mark.parametrize("count", [2, 5, 19, 20, 34, 255])
def test_every_class_count_has_a_palette_of_distinct_colours(count):
    table = class_palette(count)
    assert table.shape == (256, 3) and not table[count:].any()
    assert len({tuple(colour) for colour in table[:count]}) == count
    if count in (19, 20):
        assert (table[:count] == palette()[:count]).all()


def test_generated_colours_keep_neighbouring_ids_apart():
    colours = generated_palette(12).astype(int)
    assert np.abs(np.diff(colours, axis=0)).sum(1).min() > 60


def test_a_classes_yaml_colours_the_pictures():
    table = class_palette(3, ((1, 2, 3), (4, 5, 6), (7, 8, 9)))
    assert table[:4].tolist() == [[1, 2, 3], [4, 5, 6], [7, 8, 9], [0, 0, 0]]


def test_cityscapes_label_ids_are_written_for_cityscapes_networks_only():
    assert "labelids" in kinds_for(19) and "labelids" in kinds_for(20)
    assert kinds_for(5) == ("color", "overlay", "trainids")
    with pytest.raises(UserError, match="this one has 5"):
        kinds_for(5, ("color", "labelids"))


@pytest.mark.slow
@pytest.mark.parametrize("classes, layout", [(19, "cityscapes"), (5, "folders")])
def test_weights_of_another_class_count_pass_every_command(tmp_path, capsys, classes, layout):
    """erfnet_pytorch-format weights of 19 and of 5 classes: converted both ways (bit-exact back), both parity
    modes (at 5, two-file parity is test_fault_catalogue's) passing with the loss rows weighed uniformly, exported to ONNX, evaluated (one IoU per class) and
    predicted (class ids below the count) on data of that many classes."""
    pth, ckpt, back = tmp_path / "w.pth", tmp_path / "w.ckpt", tmp_path / "back.pth"
    state = save_upstream(pth, num_classes=classes)
    assert main(["convert", str(pth), str(ckpt)]) == 0 and main(["convert", str(ckpt), str(back)]) == 0
    returned = torch.load(back, weights_only=True)
    assert returned.keys() == state.keys()
    assert all(torch.equal(returned[key], state[key]) for key in state if not key.endswith("num_batches_tracked"))
    size = ["--height", "16", "--width", "32"]
    capsys.readouterr()
    assert main(["parity", "--weights", str(pth), *size]) == 0
    assert f"(uniform class weights: no published weights for {classes} classes)" in capsys.readouterr().out
    if classes == 19:  # at 5, two-file parity is the fault catalogue's clean pair
        assert main(["parity", "--reference", str(pth), "--weights", str(ckpt), *size, "--quiet"]) == 0
    assert main(["export", "--weights", str(ckpt), "--format", "onnx", "--out", str(tmp_path / "w.onnx"),
                 "--height", "32", "--width", "64"]) == 0
    data = tmp_path / "data"
    folders = ["--layout", "folders", "--classes", str(classes)] if layout == "folders" else []
    assert main(["make-data", str(data), "--train", "1", "--val", "2", "--width", "64", "--quiet", *folders]) == 0
    assert main(["eval", "--weights", str(ckpt), "--data", str(data), "--height", "32",
                 "--metrics-out", str(tmp_path / "metrics")]) == 0
    scores = json.loads((tmp_path / "metrics" / "w.ckpt.metrics.json").read_text())
    assert len(scores["iou_class"]) == classes and scores["images"] == 2
    images = data / "images" / "val" if layout == "folders" else data / "leftImg8bit" / "val"
    assert main(["infer", "--weights", str(ckpt), "--input", str(images), "--out", str(tmp_path / "pictures"),
                 "--height", "32", "--what", "trainids", "--quiet"]) == 0
    written = sorted((tmp_path / "pictures" / "trainids").rglob("*.png"))
    assert len(written) == 2 and all(np.asarray(Image.open(path)).max() < classes for path in written)
