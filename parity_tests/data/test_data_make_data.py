"""`erfnet make-data`: the real Cityscapes layout and names, consistent label files, deterministic scenes
that cover the classes."""
import numpy as np
from cityscapesscripts.helpers.labels import id2label

from erfnet.cli import main
from helpers.data_fixtures import COUNTS, WIDTH
from helpers.data_references import png, reference_train_ids

KINDS = ("labelIds", "labelTrainIds", "color", "instanceIds")


def image_files(root, split):
    return sorted((root / "leftImg8bit" / split).glob("*/*_leftImg8bit.png"))


def test_layout_names_and_cities(data_root):
    for split, cities in (("train", {"aachen", "bremen"}), ("val", {"frankfurt"})):
        images = image_files(data_root, split)
        assert len(images) == COUNTS[split] and {p.parent.name for p in images} == cities
        for image in images:
            city, seq, frame = image.name[:-len("_leftImg8bit.png")].split("_")
            assert city == image.parent.name and len(seq) == 6 and len(frame) == 6
            assert png(image).shape == (WIDTH // 2, WIDTH, 3)
            stem = f"{city}_{seq}_{frame}"
            for kind in KINDS:
                assert (data_root / "gtFine" / split / city / f"{stem}_gtFine_{kind}.png").is_file()


def test_label_files_agree_with_the_official_table(data_root):
    for image in image_files(data_root, "val"):
        prefix = str(image).replace("leftImg8bit/", "gtFine/", 1).replace("_leftImg8bit.png", "_gtFine_")
        ids = png(prefix + "labelIds.png")
        train_ids = reference_train_ids(ids)
        np.testing.assert_array_equal(png(prefix + "labelTrainIds.png"), np.where(train_ids == 19, 255, train_ids))
        colours = png(prefix + "color.png")
        for value in np.unique(ids):
            assert (colours[ids == value][:, :3] == id2label[int(value)].color).all()
        instances = png(prefix + "instanceIds.png").astype(int)
        np.testing.assert_array_equal(np.where(instances >= 1000, instances // 1000, instances), ids)


def test_scenes_cover_most_classes_with_distinct_colours(data_root):
    present = set()
    for image in image_files(data_root, "train"):
        ids = png(str(image).replace("leftImg8bit/", "gtFine/", 1).replace("_leftImg8bit", "_gtFine_labelIds"))
        train_ids = reference_train_ids(ids)
        present |= set(np.unique(train_ids).tolist())
        pixels = png(image).reshape(-1, 3).astype(float)
        road, sky = pixels[train_ids.ravel() == 0], pixels[train_ids.ravel() == 10]
        assert np.linalg.norm(road.mean(0) - sky.mean(0)) > 50
        assert road.std(0).max() < 25
    assert len(present - {19}) >= 15


def test_the_same_seed_writes_the_same_files(tmp_path):
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        assert main(["make-data", str(tmp_path / name), "--train", "2", "--val", "1", "--width", "64",
                     "--seed", str(seed)]) == 0
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.png"))
    assert len(files) == 15
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)
    assert any((tmp_path / "a" / f).read_bytes() != (tmp_path / "c" / f).read_bytes() for f in files)


def test_bad_options_are_one_line_errors(tmp_path, capsys):
    assert main(["make-data", str(tmp_path / "x"), "--width", "15"]) == 2
    assert "--width" in capsys.readouterr().err


def pixels(root, split):
    colours, classes = [], []
    for image in image_files(root, split):
        ids = png(str(image).replace("leftImg8bit/", "gtFine/", 1).replace("_leftImg8bit", "_gtFine_labelIds"))
        colours.append(png(image).reshape(-1, 3).astype(float))
        classes.append(reference_train_ids(ids).ravel())
    return np.concatenate(colours), np.concatenate(classes)


def test_scenes_are_learnable_from_colour_alone(data_root):
    """A nearest-mean-colour classifier fitted on train reaches a high val mIoU (0.94 on 32/8 scenes), so a
    small ERFNet, which also sees shapes and context, can learn the classes in minutes."""
    colours, classes = pixels(data_root, "train")
    means = np.stack([colours[classes == c].mean(0) if (classes == c).any() else np.full(3, 1e6) for c in range(19)])
    val_colours, truth = pixels(data_root, "val")
    predicted = np.argmin(((val_colours[:, None, :] - means[None]) ** 2).sum(-1), axis=1)
    ious = []
    for c in np.unique(truth[truth < 19]):
        union = ((predicted == c) | (truth == c)) & (truth < 19)
        ious.append(((predicted == c) & (truth == c)).sum() / union.sum())
    assert len(ious) >= 12 and np.mean(ious) > 0.8
