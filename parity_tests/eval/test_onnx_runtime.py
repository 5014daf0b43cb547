"""`--runtime onnxruntime` (eval.runtime): the same mIoU and loss as MindSpore, the same pictures except at
near-ties, an export cache that is reused, never trusts a damaged file and keys on the weights, and one-line
errors for what it cannot do. `--runtime auto` picks the runtime measured fastest and says which in one line."""
import logging
from argparse import Namespace

import mindspore as ms
import mindspore.ops as ops
import numpy as np
import pytest
from PIL import Image

from convert.network import load_full_network
from erfnet.cli import main
from erfnet.commands import runtime_choice
from eval import runtime as runtime_module
from eval.evaluate import evaluate
from eval.infer import find_images, infer_images
from eval.predict import image_tensor, logits
from eval.runtime import OnnxRuntime
from facts.errors import UserError
from helpers.data_references import png

HEIGHT = 64


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One export cache for the module, so each input shape is exported once."""
    return tmp_path_factory.mktemp("onnx_cache")


@pytest.fixture(scope="module")
def net(weight_files):
    return load_full_network(weight_files["torch"])[0]


def native_scores(runtime, photo):
    """float64 logits [C, h, w] at the photo's own size, as eval.predict.native_class_map upsamples them."""
    scores = logits(runtime, image_tensor(photo, HEIGHT)[None])
    upsampled = ops.interpolate(scores, size=photo.shape[:2], mode="bilinear", align_corners=False)
    return upsampled.asnumpy()[0].astype(np.float64)


def test_evaluation_scores_the_same_in_both_runtimes(net, data_root, cache):
    mindspore = evaluate(net, data_root, "val", HEIGHT, "full", batch_size=3, quiet=True)
    onnx = evaluate(OnnxRuntime(net, batch_size=3, cache=cache), data_root, "val", HEIGHT, "full", batch_size=3,
                    quiet=True)
    assert onnx.images == mindspore.images == 4
    assert abs(onnx.mean_iou - mindspore.mean_iou) <= 1e-4
    assert onnx.mean_loss == pytest.approx(mindspore.mean_loss, rel=1e-5)
    assert np.abs(onnx.confusion - mindspore.confusion).sum() <= 2e-4 * mindspore.confusion.sum()


def test_pictures_are_the_same_except_where_the_scores_tie(net, data_root, cache, tmp_path):
    """Odd sizes (padded to a multiple of 8 and cropped back): the trainIds pictures of both runtimes differ only
    where MindSpore's two best scores are closer than twice the runtimes' largest score difference."""
    for index, source in enumerate(sorted((data_root / "leftImg8bit" / "val").glob("*/*.png"))[:2]):
        photo = png(source)
        Image.fromarray(photo[: 75 + 6 * index, : 150 - 10 * index]).save(tmp_path / f"odd{index}.png")
    images = find_images(tmp_path)
    onnx = OnnxRuntime(net, cache=cache)
    for name, runtime in (("mindspore", net), ("onnxruntime", onnx)):
        assert infer_images(runtime, images, tmp_path / name, HEIGHT, ["trainids"], quiet=True).written == 2
    for path, relative in images:
        ours, theirs = (png(tmp_path / name / "trainids" / f"{relative}.png") for name in ("mindspore", "onnxruntime"))
        expected, other = native_scores(net, png(path)), native_scores(onnx, png(path))
        difference = np.abs(expected - other).max()
        assert difference <= 1e-5 * np.abs(expected).max()
        rows, columns = np.nonzero(ours != theirs)
        margin = expected[ours[rows, columns], rows, columns] - expected[theirs[rows, columns], rows, columns]
        assert np.all(margin <= 2 * difference)
        assert len(rows) <= 1e-3 * ours.size


def test_the_cache_is_reused_keyed_on_the_weights_and_a_damaged_file_exported_again(weight_files, net, tmp_path,
                                                                                    monkeypatch, caplog):
    images = ms.Tensor(np.random.default_rng(0).random((2, 3, 16, 32), dtype=np.float32))
    expected = net(images).asnumpy()
    first = OnnxRuntime(net, batch_size=2, cache=tmp_path)
    np.testing.assert_allclose(first(images).asnumpy(), expected, atol=1e-5 * np.abs(expected).max())
    path = first.cached_path(16, 32)
    assert sorted(file.name for file in tmp_path.iterdir()) == [path.name, path.name + ".sha256"]
    exported = []
    real_export = runtime_module.export_network
    monkeypatch.setattr(runtime_module, "export_network", lambda *args: exported.append(args) or real_export(*args))
    np.testing.assert_array_equal(OnnxRuntime(net, batch_size=2, cache=tmp_path)(images).asnumpy(),
                                  first(images).asnumpy())
    assert not exported
    damaged = bytearray(path.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    path.write_bytes(bytes(damaged))
    with caplog.at_level(logging.WARNING):
        again = OnnxRuntime(net, batch_size=2, cache=tmp_path)(images).asnumpy()
    assert len(exported) == 1 and "does not match its recorded sha256" in caplog.text
    np.testing.assert_array_equal(again, first(images).asnumpy())
    other = load_full_network(weight_files["other"])[0]
    assert OnnxRuntime(other, batch_size=2, cache=tmp_path).cached_path(16, 32) != path


def test_a_given_onnx_file_runs_in_any_batch_and_refuses_another_size(net, cache, tmp_path):
    model = OnnxRuntime(net, cache=cache).cached_export(16, 32)
    given = OnnxRuntime(model=model)
    images = np.random.default_rng(1).random((3, 3, 16, 32), dtype=np.float32)
    np.testing.assert_allclose(given(images).asnumpy(), net(ms.Tensor(images)).asnumpy(), rtol=0, atol=1e-4)
    with pytest.raises(UserError, match="takes images of 16x32, not 24x32"):
        given(np.zeros((1, 3, 24, 32), np.float32))
    (tmp_path / "garbage.onnx").write_bytes(b"not a model")
    with pytest.raises(UserError, match="garbage.onnx: not an ONNX model"):
        OnnxRuntime(model=tmp_path / "garbage.onnx")


@pytest.mark.parametrize("argv, message", [
    (["--runtime", "onnxruntime", "--devices", "2"], "drop --devices 2"),
    (["--runtime", "onnxruntime", "--device", "Ascend"], "runs on the CPU"),
    (["--runtime", "mindspore", "--weights-onnx"], "an ONNX model runs in onnxruntime"),
])
@pytest.mark.parametrize("command", ["eval", "infer"])
def test_what_the_runtime_cannot_do_is_one_line_and_exit_code_2(weight_files, data_root, tmp_path, capsys,
                                                                command, argv, message):
    weights = weight_files["torch"]
    if "--weights-onnx" in argv:
        argv = [item for item in argv if item != "--weights-onnx"]
        weights = tmp_path / "model.onnx"
        weights.write_bytes(b"any")
    place = ["--data", data_root] if command == "eval" else ["--input", data_root, "--out", tmp_path / "out"]
    code = main([command, "--weights", str(weights), *map(str, place), *argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_infer_runs_a_given_onnx_file(net, data_root, cache, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "unused"))
    model = OnnxRuntime(net, cache=cache).cached_export(64, 128)
    source = sorted((data_root / "leftImg8bit" / "val").glob("*/*.png"))[0]
    code = main(["infer", "--weights", str(model), "--input", str(source), "--out", str(tmp_path / "out"),
                 "--height", str(HEIGHT), "--what", "trainids"])
    assert code == 0, capsys.readouterr().err
    expected = OnnxRuntime(model=model)
    scores = native_scores(expected, png(source))
    np.testing.assert_array_equal(png(tmp_path / "out" / "trainids" / f"{source.stem}.png"), scores.argmax(0))
    assert not (tmp_path / "unused").exists()


@pytest.mark.parametrize("options, device, chosen", [
    ({"height": 512}, "CPU", ("onnxruntime", "CPU inference at height 512 (>= 384: measured faster)")),
    ({"height": 256}, "CPU", ("mindspore", "CPU inference at height 256 (< 384: MindSpore measured faster)")),
    ({"height": 512, "devices": 8}, "CPU", ("mindspore", "--devices 8")),
    ({"height": 512}, "Ascend", ("mindspore", "on Ascend")),
    ({"height": 256, "weights": "model.onnx"}, "CPU", ("onnxruntime", "an .onnx file")),
])
def test_runtime_auto_picks_the_runtime_measured_fastest(monkeypatch, options, device, chosen):
    monkeypatch.setattr(runtime_choice, "resolve_device", lambda target: device)
    args = Namespace(**{"devices": 1, "device": "auto", "weights": "model.ckpt", **options})
    assert runtime_choice.automatic(args, args.weights) == chosen


def test_runtime_auto_says_which_in_one_line_and_runs_it(weight_files, data_root, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(runtime_choice, "ONNX_FROM_HEIGHT", HEIGHT)
    source = sorted((data_root / "leftImg8bit" / "val").glob("*/*.png"))[0]
    code = main(["infer", "--weights", str(weight_files["torch"]), "--input", str(source), "--out",
                 str(tmp_path / "out"), "--height", str(HEIGHT), "--what", "trainids"])
    out = capsys.readouterr().out
    assert code == 0 and out.strip().splitlines()[-1] == (
        f"wrote trainids for 1 of 1 images under {tmp_path / 'out'} (onnxruntime, chosen by --runtime auto: CPU "
        f"inference at height {HEIGHT} (>= {HEIGHT}: measured faster))")
    assert len(list((tmp_path / "cache" / "erfnet" / "onnx").glob("*.onnx"))) == 1
