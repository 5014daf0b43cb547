"""`erfnet infer`: names and sub-folders kept, each output kind against an independent computation, batching
that changes nothing, unreadable images skipped with exit code 1, one-line errors."""
import shutil

import numpy as np
import pytest
from cityscapesscripts.helpers.labels import trainId2label
from PIL import Image

from convert.network import load_full_network
from eval.predict import logits
from erfnet.cli import main
from helpers.data_references import png
from helpers.eval_references import reference_input, upsampled_prediction

HEIGHT = 64


@pytest.fixture(scope="module")
def photos(data_root, tmp_path_factory):
    """An input tree: two val images in a sub-folder, one as JPEG at the top, a corrupt PNG in between."""
    root = tmp_path_factory.mktemp("photos")
    images = sorted((data_root / "leftImg8bit" / "val").glob("*/*.png"))
    (root / "street").mkdir()
    for image in images[:2]:
        shutil.copy(image, root / "street" / image.name)
    Image.open(images[2]).save(root / "third.jpg", quality=95)
    (root / "street" / "broken.png").write_bytes(images[3].read_bytes()[:200])
    return root


def run_infer(capsys, *argv):
    code = main(["infer", *map(str, argv)])
    return (code, *capsys.readouterr())


def test_every_kind_matches_an_independent_computation(weight_files, photos, tmp_path, capsys):
    out = tmp_path / "out"
    code, stdout, stderr = run_infer(capsys, "--weights", weight_files["torch"], "--input", photos, "--out", out,
                                     "--height", HEIGHT, "--batch-size", "2")
    assert code == 1, "one image was unreadable"
    assert "broken.png" in stderr and "could not be read" in stderr and "Traceback" not in stderr
    assert "for 3 of 4 images" in stdout
    net = load_full_network(weight_files["torch"])[0]
    colours = {train_id: label.color for train_id, label in trainId2label.items() if 0 <= train_id < 19}
    for source in sorted((photos / "street").glob("*_leftImg8bit.png")):
        relative = source.relative_to(photos)
        with Image.open(source) as image:
            photo = np.asarray(image.convert("RGB"))
        expected = upsampled_prediction(logits(net, reference_input(source, HEIGHT)).asnumpy(), photo.shape[:2])[0]
        trainids = png(out / "trainids" / relative)
        np.testing.assert_array_equal(trainids, expected)
        labelids = png(out / "labelids" / relative)
        expected_ids = np.vectorize(lambda t: trainId2label[t].id if t < 19 else 0)(expected)
        np.testing.assert_array_equal(labelids, expected_ids)
        colour = png(out / "color" / relative)
        for train_id in np.unique(expected):
            assert (colour[expected == train_id] == colours.get(int(train_id), (0, 0, 0))).all()
        blend = png(out / "overlay" / relative).astype(int)
        assert np.abs(blend - (photo.astype(int) + colour) / 2).max() <= 0.5 + 1e-9
    assert png(out / "trainids" / "third.png").shape == (128, 256)
    assert not (out / "trainids" / "street" / "broken.png").exists()


def test_batching_changes_nothing_and_kinds_can_be_chosen(weight_files, photos, tmp_path, capsys):
    for batch in (1, 3):
        run_infer(capsys, "--weights", weight_files["torch"], "--input", photos, "--out", tmp_path / str(batch),
                  "--height", HEIGHT, "--batch-size", batch, "--what", "trainids")
        assert sorted(p.name for p in (tmp_path / str(batch)).iterdir()) == ["trainids"]
    for path in (tmp_path / "1").rglob("*.png"):
        np.testing.assert_array_equal(png(path), png(tmp_path / "3" / path.relative_to(tmp_path / "1")))


def test_a_single_file_and_an_output_folder_inside_the_input(weight_files, photos, tmp_path, capsys):
    tree = tmp_path / "tree"
    shutil.copytree(photos / "street", tree, ignore=shutil.ignore_patterns("broken.png"))
    for _ in range(2):  # the second run must not pick up the first run's pictures
        code, stdout, _ = run_infer(capsys, "--weights", weight_files["torch"], "--input", tree, "--out",
                                    tree / "predictions", "--height", HEIGHT, "--what", "color")
        assert code == 0 and "for 2 of 2 images" in stdout
    single = sorted(tree.glob("*.png"))[0]
    code, stdout, _ = run_infer(capsys, "--weights", weight_files["torch"], "--input", single, "--out",
                                tmp_path / "one", "--height", HEIGHT, "--what", "labelids")
    assert code == 0 and (tmp_path / "one" / "labelids" / single.name).is_file()


@pytest.mark.parametrize("options, message", [
    (["--what", "colour"], "unknown output kind(s) colour"), (["--height", "100"], "multiple of 8"),
    (["--input", "/nonexistent/images"], "no such file or folder"), (["--batch-size", "0"], "at least 1"),
])
def test_user_mistakes_get_one_line_and_exit_code_2(weight_files, photos, tmp_path, capsys, options, message):
    argv = {"--weights": weight_files["torch"], "--input": photos, "--out": tmp_path, "--height": HEIGHT}
    argv.update(zip(options[::2], options[1::2]))
    code, _, stderr = run_infer(capsys, *[item for pair in argv.items() for item in pair])
    assert code == 2 and message in stderr and len(stderr.strip().splitlines()) == 1
