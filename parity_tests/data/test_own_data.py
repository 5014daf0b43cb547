"""One's own data in the folders layout (data/folders.py, data/layout.py): pairing, every bad-file error as one
line naming the file (or, with skip_bad, the sample left out), classes.yaml's checks, the label space shared by
training and evaluation, the pipeline and its cache on it, and make-data's folders."""
import shutil

import numpy as np
import pytest
from PIL import Image
from cityscapesscripts.helpers.labels import trainId2label

from data.cache import prepare
from data.layout import CITYSCAPES, FOLDERS, find_samples, label_space, layout_of, read_sample
from data.make_folders import class_of_train_id, make_folders_data
from data.pipeline import dataset_rows, make_dataset
from erfnet.cli import main
from facts.errors import BadSample, UserError
from helpers.upstream_weights import save_upstream

CLASSES = 5
_MADE = {}


@pytest.fixture(scope="session")
def own_root(tmp_path_factory):
    """A generated folders dataset of 5 classes (8 train, 3 val scenes of 128x64, seed 0). Read-only."""
    if "root" not in _MADE:
        root = tmp_path_factory.mktemp("own")
        make_folders_data(root, {"train": 8, "val": 3}, 128, seed=0, num_classes=CLASSES)
        _MADE["root"] = root
    return _MADE["root"]


@pytest.fixture
def own_copy(own_root, tmp_path):
    target = tmp_path / "own"
    shutil.copytree(own_root, target)
    return target


def label_file(root, split="train", index=0):
    return sorted((root / "labels" / split).glob("*.png"))[index]


def write_label(path, array):
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path)


def test_the_layouts_are_told_apart(own_root, data_root):
    assert layout_of(own_root) == FOLDERS and layout_of(data_root) == CITYSCAPES
    assert label_space(data_root).void == 19 and label_space(own_root).void == CLASSES


def test_samples_pair_by_stem_and_ignored_pixels_become_the_class_count(own_copy):
    first = label_file(own_copy)
    raw = np.asarray(Image.open(first)).copy()
    raw[:3] = 255
    write_label(first, raw)
    samples = find_samples(own_copy, "train", decode_labels=True)
    assert [s.stem for s in samples] == [f"train_{i:06d}" for i in range(8)]
    image, label = read_sample(samples[0])
    np.testing.assert_array_equal(image, np.asarray(Image.open(samples[0].image_path).convert("RGB")))
    np.testing.assert_array_equal(label, np.where(raw == 255, CLASSES, raw))
    assert label.max() <= CLASSES and (label[:3] == CLASSES).all()


def test_images_in_sub_folders_and_as_jpeg_pair_with_their_labels(own_copy):
    image = sorted((own_copy / "images" / "val").glob("*.png"))[0]
    label = own_copy / "labels" / "val" / image.name
    (own_copy / "images" / "val" / "site").mkdir()
    (own_copy / "labels" / "val" / "site").mkdir()
    Image.open(image).save(own_copy / "images" / "val" / "site" / "a.jpg", quality=95)
    shutil.move(label, own_copy / "labels" / "val" / "site" / "a.png")
    image.unlink()
    samples = find_samples(own_copy, "val", decode_labels=True)
    assert "site/a" in [s.stem for s in samples]
    assert read_sample(next(s for s in samples if s.stem == "site/a"))[0].shape == (64, 128, 3)


@pytest.mark.parametrize("fault, words", [
    ("missing label", "no label (expected"),
    ("missing image", "no image (expected"),
    ("size mismatch", "differs from its image"),
    ("id out of range", "class ids [7] outside 0..4"),
    ("not an image", "unreadable image"),
    ("rgb label", "single-channel PNG"),
])
def test_every_bad_file_is_one_line_naming_it_or_left_out_with_skip_bad(own_copy, fault, words):
    label = label_file(own_copy, index=2)
    image = own_copy / "images" / "train" / label.name
    named = {"missing label": image, "missing image": label}.get(fault, label)
    if fault == "missing label":
        label.unlink()
    elif fault == "missing image":
        image.unlink()
    elif fault == "size mismatch":
        write_label(label, np.zeros((32, 64)))
    elif fault == "id out of range":
        raw = np.asarray(Image.open(label)).copy()
        raw[5, 5] = 7
        write_label(label, raw)
    elif fault == "not an image":
        named = image
        image.write_bytes(b"this is text, not a picture\n")
    else:
        Image.new("RGB", (128, 64)).save(label)
    with pytest.raises(UserError) as error:
        find_samples(own_copy, "train", verify=True, decode_labels=True)
    message = str(error.value)
    assert "\n" not in message and str(named) in message and words in message
    assert isinstance(error.value, BadSample), "the commands that take --skip-bad point to it (erfnet/cli.py)"
    assert len(find_samples(own_copy, "train", skip_bad=True, verify=True, decode_labels=True)) == 7


def test_an_empty_split_and_a_missing_split_are_one_line(own_copy):
    for path in (own_copy / "labels" / "val").glob("*.png"):
        path.unlink()
    with pytest.raises(UserError, match="split 'val' has no usable image/label pairs"):
        find_samples(own_copy, "val", skip_bad=True)
    with pytest.raises(UserError, match="test: no such folder"):
        find_samples(own_copy, "test")


@pytest.mark.parametrize("text, words", [
    ("names: [road]\n", "names: 1 classes: need 2 to 255"),
    ("names: [road, road]\n", "'road' appears twice"),
    ("nmes: [road, car]\n", "names: missing"),
    ("names: [road, car]\ncolor: [[1, 2, 3], [4, 5, 6]]\n", "color: unknown field"),
    ("names: [road, car]\ncolours: [[1, 2, 3]]\n", "colours: must be 2 RGB triples"),
    ("names: [road, car\n", "not valid YAML"),
])
def test_a_bad_classes_yaml_names_the_field(own_copy, text, words):
    (own_copy / "classes.yaml").write_text(text)
    with pytest.raises(UserError, match=words):
        label_space(own_copy)


def test_a_network_fits_the_data_with_or_without_a_void_channel_and_else_names_both_counts(own_root):
    space = label_space(own_root)
    assert space.channels_fit(5) and space.channels_fit(6) and not space.channels_fit(20)
    with pytest.raises(UserError, match=r"the network has 20 classes; .*classes.yaml has 5 \(a network for it has 5, "
                                        r"or 6 with a void channel\)"):
        space.check_network(20, "the network")


def test_the_pipeline_pads_and_shifts_with_the_datasets_ignored_id(own_root):
    data = make_dataset(own_root, "train", recipe="pytorch", height=60, batch_size=2, max_shift=2, seed=3,
                        pad_to_stride=True, num_workers=1)
    labels = np.concatenate([row["label"] for row in dataset_rows(data)])
    assert labels.shape[1:] == (64, 120) and labels.max() <= CLASSES
    assert (labels[:, 60:] == CLASSES).all()


def test_the_cache_serves_the_same_rows_as_the_files(own_root, tmp_path):
    folder = prepare(own_root, "val", 32, out=tmp_path / "cache", workers=1, quiet=True)
    rows = [list(dataset_rows(make_dataset(own_root, "val", recipe="val", height=32, cache=cache, num_workers=1)))
            for cache in (None, folder)]
    for files, cached in zip(*rows):
        np.testing.assert_array_equal(files["label"], cached["label"])
        np.testing.assert_array_equal(files["image"], cached["image"])


def test_make_data_groups_cityscapes_classes_into_the_count_asked(tmp_path, capsys):
    five = {"road": 0, "sky": 1, "building": 2, "vegetation": 3}
    assert class_of_train_id(5)[:19].tolist() == [five.get(trainId2label[i].name, 4) for i in range(19)]
    assert class_of_train_id(19)[:19].tolist() == list(range(19)) and class_of_train_id(2)[19] == 255
    assert main(["make-data", str(tmp_path / "d"), "--layout", "folders", "--classes", "3", "--train", "2",
                 "--val", "1", "--width", "64"]) == 0
    assert label_space(tmp_path / "d").names == ("road", "sky", "other")
    assert len(find_samples(tmp_path / "d", "train", decode_labels=True)) == 2
    assert main(["make-data", str(tmp_path / "e"), "--layout", "folders", "--classes", "1"]) == 2
    assert "--classes 1: must be in 2..255" in capsys.readouterr().err


def test_infer_with_a_classes_yaml_of_another_count_is_one_line_naming_both(own_root, tmp_path, capsys):
    save_upstream(tmp_path / "w19.pth", num_classes=19)
    assert main(["infer", "--weights", str(tmp_path / "w19.pth"), "--input", str(own_root / "images" / "val"),
                 "--out", str(tmp_path / "out"), "--height", "32", "--classes", str(own_root / "classes.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a network of 19 classes; " in err and "classes.yaml names 5" in err
