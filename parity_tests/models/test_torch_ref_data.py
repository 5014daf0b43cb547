"""torch_ref's reading of a Cityscapes root and of a folders dataset, and erfnet_pytorch's joint transform,
against numpy slicing: the flip and shift, the void fill where erfnet_pytorch fills road, the order of the random
draws, the shorter-side resize, encoder labels at 1/8, pairing by stem and the val batches the trainer hands
out."""
import itertools
import random

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from torch_ref.cityscapes import cityscapes_pairs
from torch_ref.folders import folders_pairs
from torch_ref.joint_transform import JointTransform, flip_and_shift, resize_shorter_side
from torch_ref.pictures import PairDataset
from torch_ref.trainer import evaluation_batches

WIDTH, HEIGHT = 64, 32


def write_pair(root, split, city, stem, image, label):
    """One Cityscapes-layout image and its labelTrainIds picture under `root`."""
    image_dir = root / "leftImg8bit" / split / city
    label_dir = root / "gtFine" / split / city
    image_dir.mkdir(parents=True, exist_ok=True)
    label_dir.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(image_dir / f"{stem}_leftImg8bit.png")
    Image.fromarray(label, "L").save(label_dir / f"{stem}_gtFine_labelTrainIds.png")


def random_pair(rng):
    """A 64x32 RGB image and a label of trainIds 0..18 and void 255."""
    image = rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    label = rng.choice(np.r_[np.arange(19), 255], (HEIGHT, WIDTH)).astype(np.uint8)
    return image, label


def moved(array, flip, dx, dy, fill):
    """numpy's account of the augmentation: mirror the columns, then move right by dx and down by dy,
    `fill` where nothing moved in."""
    if flip:
        array = array[:, ::-1]
    h, w = array.shape[:2]
    out = np.full_like(array, fill)
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        array[max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
    return out


def as_tensors(image, label, void_id=19):
    """The expected tensors: image CHW float32 x/255, label (1, H, W) long with 255 -> `void_id`."""
    expected_label = label.astype(np.int64)
    expected_label[expected_label == 255] = void_id
    return (torch.from_numpy(image.transpose(2, 0, 1).astype(np.float32) / np.float32(255)),
            torch.from_numpy(expected_label)[None])


def test_flip_and_shift_match_numpy_for_every_draw():
    image, label = random_pair(np.random.default_rng(0))
    for flip, dx, dy in itertools.product((False, True), range(-2, 3), range(-2, 3)):
        got_image, got_label = flip_and_shift(Image.fromarray(image), Image.fromarray(label, "L").convert("P"),
                                              flip, dx, dy)
        assert got_image.size == got_label.size == (WIDTH, HEIGHT)
        np.testing.assert_array_equal(np.array(got_image), moved(image, flip, dx, dy, 0), err_msg=f"{flip, dx, dy}")
        np.testing.assert_array_equal(np.array(got_label), moved(label, flip, dx, dy, 255), err_msg=f"{flip, dx, dy}")


def test_a_negative_shift_exposes_void_where_erfnet_pytorch_exposes_road():
    cars = Image.fromarray(np.full((HEIGHT, WIDTH), 13, np.uint8), "L").convert("P")
    _, label = flip_and_shift(cars.convert("RGB"), cars, False, -2, -1)
    label = np.array(label)
    assert (label[:, -2:] == 255).all() and (label[-1:, :] == 255).all() and (label[:-1, :-2] == 13).all()
    upstream = ImageOps.expand(cars, border=(-2, -1, 0, 0), fill=255).crop((0, 0, WIDTH, HEIGHT))
    assert (np.array(upstream)[:, -2:] == 0).all(), "erfnet_pytorch's expand-and-crop fills this strip with 0"


@pytest.mark.parametrize("seed", range(6))
def test_the_transform_draws_flip_then_x_then_y_from_python_random(seed):
    image, label = random_pair(np.random.default_rng(seed))
    draws = random.Random(seed)
    flip, dx, dy = draws.random() < 0.5, draws.randint(-2, 2), draws.randint(-2, 2)
    random.seed(seed)
    got_image, got_label = JointTransform(False, augment=True, height=HEIGHT)(
        Image.fromarray(image), Image.fromarray(label, "L").convert("P"))
    want_image, want_label = as_tensors(moved(image, flip, dx, dy, 0), moved(label, flip, dx, dy, 255))
    assert got_image.dtype == torch.float32 and got_label.dtype == torch.int64
    assert torch.equal(got_image, want_image) and torch.equal(got_label, want_label)


def test_resize_makes_the_shorter_side_the_height_as_torchvision_resize_int():
    assert resize_shorter_side(Image.new("RGB", (64, 32)), 16, Image.Resampling.BILINEAR).size == (32, 16)
    assert resize_shorter_side(Image.new("RGB", (30, 50)), 16, Image.Resampling.BILINEAR).size == (16, 26)
    assert resize_shorter_side(Image.new("L", (100, 37)), 16, Image.Resampling.NEAREST).size == (43, 16)
    assert resize_shorter_side(Image.new("L", (20, 20)), 16, Image.Resampling.NEAREST).size == (16, 16)


def test_encoder_labels_are_nearest_at_one_eighth_and_no_augmentation_draws_nothing():
    image, label = random_pair(np.random.default_rng(1))
    state = random.getstate()
    got_image, got_label = JointTransform(True, augment=False, height=HEIGHT)(
        Image.fromarray(image), Image.fromarray(label, "L").convert("P"))
    assert random.getstate() == state
    want_image, want_label = as_tensors(image, label[4::8, 4::8])
    assert got_label.shape == (1, 4, 8)
    assert torch.equal(got_image, want_image) and torch.equal(got_label, want_label)


def test_pairs_by_city_and_stem_ignoring_other_gtfine_files(tmp_path):
    rng = np.random.default_rng(2)
    stems = [("zurich", "zurich_000001_000019"), ("aachen", "aachen_000002_000019"), ("aachen", "aachen_000000_000019")]
    for city, stem in stems:
        write_pair(tmp_path, "train", city, stem, *random_pair(rng))
        Image.new("L", (WIDTH, HEIGHT)).save(tmp_path / "gtFine" / "train" / city / f"{stem}_gtFine_labelIds.png")
    pairs = cityscapes_pairs(tmp_path, "train")
    assert [(image.parent.name, image.name.removesuffix("_leftImg8bit.png")) for image, _ in pairs] == sorted(stems)
    assert all(label.name == image.name.replace("_leftImg8bit", "_gtFine_labelTrainIds") and
               label.parent.name == image.parent.name for image, label in pairs)


def test_a_missing_partner_is_named(tmp_path):
    rng = np.random.default_rng(3)
    write_pair(tmp_path, "train", "bonn", "bonn_000000_000019", *random_pair(rng))
    write_pair(tmp_path, "train", "bonn", "bonn_000001_000019", *random_pair(rng))
    (tmp_path / "gtFine/train/bonn/bonn_000000_000019_gtFine_labelTrainIds.png").unlink()
    with pytest.raises(FileNotFoundError, match="1 image.*no label.*bonn_000000_000019_gtFine_labelTrainIds.png"):
        cityscapes_pairs(tmp_path, "train")
    (tmp_path / "leftImg8bit/train/bonn/bonn_000000_000019_leftImg8bit.png").unlink()
    (tmp_path / "leftImg8bit/train/bonn/bonn_000001_000019_leftImg8bit.png").unlink()
    with pytest.raises(FileNotFoundError, match="no \\*_leftImg8bit.png"):
        cityscapes_pairs(tmp_path, "train")
    write_pair(tmp_path, "train", "bonn", "bonn_000002_000019", *random_pair(rng))
    with pytest.raises(FileNotFoundError, match="1 label.*no image.*bonn_000001_000019_leftImg8bit.png"):
        cityscapes_pairs(tmp_path, "train")


def test_dataset_reads_rgb_images_and_label_ids_as_written(tmp_path):
    image, label = random_pair(np.random.default_rng(4))
    write_pair(tmp_path, "val", "lindau", "lindau_000000_000019", image, label)
    dataset = PairDataset(cityscapes_pairs(tmp_path, "val"), JointTransform(False, augment=False, height=HEIGHT))
    got_image, got_label = dataset[0]
    want_image, want_label = as_tensors(image, label)
    assert len(dataset) == 1 and torch.equal(got_image, want_image) and torch.equal(got_label, want_label)


def write_folders_pair(root, split, stem, image, label, image_suffix=".png"):
    """One folders-layout image (`stem` may hold sub-folders) and its label picture of class ids."""
    for kind, picture, suffix in (("images", Image.fromarray(image), image_suffix),
                                  ("labels", Image.fromarray(label, "L"), ".png")):
        path = root / kind / split / f"{stem}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        picture.save(path)


def five_class_pair(rng):
    """A 64x32 RGB image and a label of class ids 0..4 and ignored 255."""
    return rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8), \
        rng.choice([0, 1, 2, 3, 4, 255], (HEIGHT, WIDTH)).astype(np.uint8)


def test_folders_pair_by_path_and_stem_whatever_the_image_suffix(tmp_path):
    rng = np.random.default_rng(6)
    for stem, suffix in (("b", ".png"), ("site2/a", ".JPG"), ("a", ".jpeg")):
        write_folders_pair(tmp_path, "train", stem, *five_class_pair(rng), suffix)
    (tmp_path / "labels" / "train" / "notes.txt").write_text("not a label")
    pairs = [tuple(path.relative_to(tmp_path).as_posix() for path in pair) for pair in folders_pairs(tmp_path, "train")]
    assert pairs == [("images/train/a.jpeg", "labels/train/a.png"), ("images/train/b.png", "labels/train/b.png"),
                     ("images/train/site2/a.JPG", "labels/train/site2/a.png")]


def test_a_folders_file_without_its_partner_is_named(tmp_path):
    rng = np.random.default_rng(7)
    for stem in ("x", "y"):
        write_folders_pair(tmp_path, "val", stem, *five_class_pair(rng))
    (tmp_path / "labels/val/x.png").unlink()
    with pytest.raises(FileNotFoundError, match=f"1 image.*no label, first {tmp_path}/images/val/x.png: "
                                                f"expected {tmp_path}/labels/val/x.png"):
        folders_pairs(tmp_path, "val")
    (tmp_path / "images/val/x.png").unlink()
    (tmp_path / "images/val/y.png").unlink()
    with pytest.raises(FileNotFoundError, match="no image \\(.png, .jpg, .jpeg\\) under"):
        folders_pairs(tmp_path, "val")
    write_folders_pair(tmp_path, "val", "z", *five_class_pair(rng))
    with pytest.raises(FileNotFoundError, match=f"1 label.*no image, first {tmp_path}/labels/val/y.png: "
                                                f"expected {tmp_path}/images/val/y with one of .png, .jpg, .jpeg"):
        folders_pairs(tmp_path, "val")


def test_folders_labels_are_read_as_class_ids_with_ignored_pixels_as_the_class_count(tmp_path):
    image, label = five_class_pair(np.random.default_rng(8))
    write_folders_pair(tmp_path, "val", "only", image, label)
    images, labels = next(iter(evaluation_batches(tmp_path, "val", height=HEIGHT, layout="folders", void_id=5)))
    want_image, want_label = as_tensors(image, label, void_id=5)
    assert torch.equal(images[0], want_image) and torch.equal(labels[0], want_label)
    assert set(labels.unique().tolist()) == {0, 1, 2, 3, 4, 5}


def test_evaluation_batches_resize_only_in_file_order(tmp_path):
    rng = np.random.default_rng(5)
    pictures = [random_pair(rng) for _ in range(3)]
    for i, (image, label) in enumerate(pictures):
        write_pair(tmp_path, "val", "munster", f"munster_{i:06d}_000019", image, label)
    batches = list(evaluation_batches(tmp_path, "val", height=HEIGHT // 2, batch_size=2))
    assert [images.shape for images, _ in batches] == [(2, 3, 16, 32), (1, 3, 16, 32)]
    labels = torch.cat([labels for _, labels in batches])
    want = torch.cat([as_tensors(image, label[1::2, 1::2])[1][None] for image, label in pictures])
    assert torch.equal(labels, want)
    images, encoder_labels = next(iter(evaluation_batches(tmp_path, "val", height=HEIGHT, network="encoder")))
    assert torch.equal(images[0], as_tensors(*pictures[0])[0])
    assert torch.equal(encoder_labels[0], as_tensors(*pictures[0])[1][:, 4::8, 4::8])
