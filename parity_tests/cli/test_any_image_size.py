"""Any image size works: infer, eval (both protocols, batches) and training on pictures whose resized sides are not
multiples of 8, against padding done by hand (numpy's edge padding, the network called on the padded size, the
scores cropped); sizes that were multiples of 8 are untouched; a graph MindSpore cannot compile leaves nothing
in the user's folder."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from convert.network import load_full_network
from data.make_data import make_data
from data.pipeline import make_dataset
from data.recipes import make_recipe, pad_pair_to_stride
from erfnet.cli import main
from eval.evaluate import evaluate
from eval.infer import find_images, infer_images
from eval.predict import logits
from facts.labels import VOID
from data.cityscapes import find_samples
from helpers.data_references import png
from helpers.eval_references import counts_by_masks, iou_from_counts, reference_label, upsampled_prediction
from ms_erfnet.devices import Devices
from train.config import read_config
from train.run import train_from_config
from train.stage import StageRunner

REPO = Path(__file__).resolve().parents[2]
SMOKE = "smoke"
ODD = (100, 37)  # width, height: at height 32 the width is 86, at 48 it is 129


def resized_input(path, height):
    """float32 [1, 3, H, W]: Pillow's bilinear resize to height H (the shorter side H for portrait pictures)."""
    with Image.open(path) as image:
        photo = image.convert("RGB")
    w, h = photo.size
    size = (int(height * w / h), height) if h <= w else (height, int(height * h / w))
    return (np.asarray(photo.resize(size, Image.BILINEAR), dtype=np.float32) / 255).transpose(2, 0, 1)[None]


def scores_padded_by_hand(net, images):
    """The network on the images edge-padded to multiples of 8 with numpy, its scores cropped back."""
    h, w = images.shape[2:]
    padded = np.pad(images, ((0, 0), (0, 0), (0, -h % 8), (0, -w % 8)), mode="edge")
    assert padded.shape[2] % 8 == 0 and padded.shape[3] % 8 == 0
    import mindspore as ms
    return net(ms.Tensor(padded)).asnumpy()[:, :, :h, :w]


@pytest.fixture(scope="module")
def net(weight_files):
    return load_full_network(weight_files["torch"])[0]


@pytest.fixture(scope="module")
def odd_root(tmp_path_factory):
    """Generated scenes squeezed to 100x37 (labels nearest), so resized widths are not multiples of 8."""
    root = tmp_path_factory.mktemp("odd")
    make_data(root, {"train": 4, "val": 3}, 100, seed=2)
    for path in root.rglob("*.png"):
        with Image.open(path) as picture:
            kind = Image.NEAREST if "gtFine" in path.name else Image.BILINEAR
            squeezed = picture.resize(ODD, kind)
        squeezed.save(path)
    return root


def test_sizes_that_are_multiples_of_8_are_not_touched(net):
    images = np.random.default_rng(0).random((2, 3, 32, 64), dtype=np.float32)
    import mindspore as ms
    np.testing.assert_array_equal(logits(net, images).asnumpy(), net(ms.Tensor(images)).asnumpy())


def test_infer_writes_every_size_at_its_own_size(net, weight_files, tmp_path, capsys):
    rng = np.random.default_rng(1)
    photos = tmp_path / "photos"
    photos.mkdir()
    for width, height in [(100, 37), (40, 64), (64, 48), (640, 480)]:
        Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(photos / f"{width}x{height}.png")
    for folder, height, names in [(photos, 64, ["100x37", "40x64", "64x48"]), (photos / "640x480.png", 512,
                                                                                ["640x480"])]:
        code = main(["infer", "--weights", str(weight_files["torch"]), "--input", str(folder), "--out",
                     str(tmp_path / "out"), "--height", str(height), "--what", "trainids"])
        assert code == 0, capsys.readouterr().err
        for name in names:
            source = photos / f"{name}.png"
            photo, resized = png(source), resized_input(source, height)
            scores = scores_padded_by_hand(net, resized)
            np.testing.assert_array_equal(logits(net, resized).asnumpy(), scores)
            expected = upsampled_prediction(scores, photo.shape[:2])[0]
            written = png(tmp_path / "out" / "trainids" / f"{name}.png")
            assert written.shape == photo.shape[:2]
            # MindSpore's float32 upsampling against PyTorch's float64 may flip a near-tie (seen: 6 of 307200)
            assert np.mean(written != expected) <= 1e-4, f"{name}: {np.sum(written != expected)} pixels differ"


def test_an_image_the_network_fails_on_is_named_and_the_rest_of_the_folder_written(tmp_path, caplog):
    """A network that fails on one input width (as MindSpore does when a huge picture runs out of memory)."""
    import mindspore as ms

    class FailsAt88Wide:
        num_classes = 20

        def __call__(self, images):
            if images.shape[3] == 88:
                raise RuntimeError("Allocate memory failed\n(many more lines)")
            return ms.Tensor(np.zeros((images.shape[0], 20, *images.shape[2:]), np.float32))

    photos = tmp_path / "photos"
    photos.mkdir()
    for width, height in [(64, 32), (100, 37), (96, 32)]:
        Image.fromarray(np.zeros((height, width, 3), np.uint8)).save(photos / f"{width}x{height}.png")
    summary = infer_images(FailsAt88Wide(), find_images(photos), tmp_path / "out", 32, ("trainids",), quiet=True)
    assert summary.written == 2 and [path.name for path in summary.failed] == ["100x37.png"]
    assert "100x37.png: cannot predict it (Allocate memory failed)" in caplog.text
    assert sorted(path.name for path in (tmp_path / "out" / "trainids").iterdir()) == ["64x32.png", "96x32.png"]


@pytest.mark.parametrize("protocol, height, batch", [("pytorch", 32, 2), ("full", 48, 1)])
def test_eval_on_scenes_whose_width_is_not_a_multiple_of_8(net, odd_root, protocol, height, batch):
    samples = find_samples(odd_root, "val")
    totals = np.zeros((3, 19), dtype=np.int64)
    for sample in samples:
        label_ids = sample.label_path.with_name(f"{sample.stem}_gtFine_labelIds.png")
        scores = scores_padded_by_hand(net, resized_input(sample.image_path, height))
        if protocol == "full":
            label = reference_label(label_ids)
            prediction = upsampled_prediction(scores, label.shape)[0]
        else:
            label, prediction = reference_label(label_ids, height), scores.argmax(1)[0]
        totals += np.array(counts_by_masks(prediction, label))
    result = evaluate(net, odd_root, "val", height, protocol, batch_size=batch)
    np.testing.assert_array_equal(np.diag(result.confusion[:, :19]), totals[0])
    np.testing.assert_allclose(result.iou_class, iou_from_counts(*totals), rtol=1e-12, equal_nan=True)
    assert result.images == 3 and 0 < result.mean_iou < 1


def test_training_pads_images_with_their_edge_and_labels_with_void(odd_root, tmp_path):
    image = np.arange(3 * 5 * 3, dtype=np.uint8).reshape(3, 5, 3)
    label = np.arange(15, dtype=np.uint8).reshape(3, 5) % 19
    padded_image, padded_label = pad_pair_to_stride(image, label)
    assert padded_image.shape == (8, 8, 3) and padded_label.shape == (8, 8)
    np.testing.assert_array_equal(padded_image[:3, :5], image)
    np.testing.assert_array_equal(padded_image[5, 7], image[2, 4])
    assert (padded_label[3:] == VOID).all() and (padded_label[:, 5:] == VOID).all()
    config = read_config(SMOKE)
    for number, label_shape in ((1, (4, 11)), (3, (32, 88))):  # encoder labels at 1/8 of the padded 32x88
        rows = list(StageRunner(config, config.stage(number), odd_root, tmp_path, Devices()).dataset(1)
                    .create_dict_iterator(num_epochs=1, output_numpy=True))
        assert rows[0]["image"].shape[2:] == (32, 88) and rows[0]["label"].shape[1:] == label_shape
    recipe = make_recipe("val", height=32)
    sample = find_samples(odd_root, "train")[0]
    with Image.open(sample.label_path) as picture:
        assert recipe.resize(np.zeros((37, 100, 3), np.uint8), np.asarray(picture))[1].shape == (32, 86)
    rows = list(make_dataset(odd_root, "train", recipe="pytorch", height=32, batch_size=4, flip_p=0.0, max_shift=0,
                             pad_to_stride=True).create_dict_iterator(num_epochs=1, output_numpy=True))
    assert (rows[0]["label"][:, :, 86:] == VOID).all() and (rows[0]["label"][:, :, :86] != VOID).any()


def test_training_runs_on_scenes_whose_width_is_not_a_multiple_of_8(odd_root, tmp_path):
    result = train_from_config(SMOKE, odd_root, tmp_path / "run", overrides=["stages.3.init=scratch",
                                                                             "stages.3.epochs=[1,1]"],
                               stages="3", quiet=True)[0]
    assert (tmp_path / "run" / "stage3" / "final.ckpt").is_file() and 0 <= result.last_miou <= 1


def test_a_graph_that_fails_to_compile_leaves_nothing_in_the_users_folder(tmp_path):
    """An input MindSpore cannot compile (ERFNet called on 37x100 directly): its analyze_fail.ir goes to the
    system's temporary folder, never to the current one."""
    cwd, temporary = tmp_path / "cwd", tmp_path / "tmp"
    cwd.mkdir()
    temporary.mkdir()
    script = ("from erfnet.logs import set_up_logging; set_up_logging()\n"
              "import mindspore as ms, numpy as np\n"
              "from ms_erfnet import ERFNet\n"
              "ms.set_context(mode=ms.GRAPH_MODE)\n"
              "try:\n"
              "    ERFNet(20)(ms.Tensor(np.zeros((1, 3, 37, 100), np.float32)))\n"
              "except (RuntimeError, ValueError, TypeError):\n"
              "    print('failed to compile')\n")
    env = {key: value for key, value in os.environ.items() if key != "MS_OM_PATH"}
    env.update(TMPDIR=str(temporary), PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", script], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)
    assert "failed to compile" in done.stdout, done.stderr[-2000:]
    assert list(cwd.iterdir()) == []
    assert list(temporary.glob("erfnet-mindspore-*/rank_*/om/analyze_fail.ir"))
