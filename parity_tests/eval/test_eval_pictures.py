"""The pictures `make demo` ends with: side-by-side panels in the official colours, the IoU bar chart, and
write_demo_pictures on generated scenes."""
import numpy as np
import pytest
from cityscapesscripts.helpers.labels import trainId2label
from PIL import Image

from eval.pictures import GAP, iou_bar_chart, side_by_side, write_demo_pictures
from facts.labels import CLASS_NAMES


def official_colours(train_ids):
    table = np.array([trainId2label[t].color if t < 19 else (0, 0, 0) for t in range(20)], dtype=np.uint8)
    return table[train_ids]


def test_side_by_side_shows_photo_truth_and_prediction_in_official_colours():
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, size=(24, 40, 3), dtype=np.uint8)
    truth, prediction = rng.integers(0, 20, size=(2, 24, 40))
    picture = np.asarray(side_by_side(photo, truth, prediction))
    caption = picture.shape[0] - 24
    assert picture.shape == (24 + caption, 3 * 40 + 2 * GAP, 3) and caption > 0
    panels = [picture[caption:, i * (40 + GAP):i * (40 + GAP) + 40] for i in range(3)]
    np.testing.assert_array_equal(panels[0], photo)
    np.testing.assert_array_equal(panels[1], official_colours(truth))
    np.testing.assert_array_equal(panels[2], official_colours(prediction))
    assert (picture[:caption] < 128).any(), "captions are drawn"


def test_side_by_side_refuses_mismatched_sizes():
    with pytest.raises(ValueError, match="prediction shape"):
        side_by_side(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.uint8), np.zeros((4, 4), np.uint8))


def test_bar_chart_is_a_png_with_one_bar_colour_per_defined_class(tmp_path):
    iou = np.linspace(0.05, 0.95, 19)
    iou[[3, 7]] = np.nan
    path = iou_bar_chart(CLASS_NAMES, iou, tmp_path / "chart.png")
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width >= 600
        pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
    present = {tuple(colour) for colour in np.unique(pixels, axis=0)}
    for train_id in range(19):
        shown = tuple(trainId2label[train_id].color) in present
        assert shown == (train_id not in (3, 7)), CLASS_NAMES[train_id]


def test_demo_pictures_are_written_for_generated_scenes(weight_files, data_root, tmp_path):
    written = write_demo_pictures(weight_files["torch"], data_root, tmp_path / "demo", count=2, height=64)
    assert [path.name for path in written[:2]] == [f"{stem}_side_by_side.png" for stem in
                                                   ("frankfurt_000000_000019", "frankfurt_000001_000020")]
    assert written[2].name == "iou_per_class.png"
    for path in written:
        with Image.open(path) as image:
            assert image.format == "PNG"
    with Image.open(written[0]) as image:
        assert image.width == 3 * 256 + 2 * GAP
