"""The mindspore.dataset pipeline: rows equal the reference, shards cover a split once, seeds reproduce
batches, the MindRecord cache gives the same rows as the PNGs."""
import numpy as np
import pytest
from PIL import Image

from erfnet.cli import main
from facts.errors import UserError
from data.cityscapes import find_samples
from data.pipeline import make_dataset, steps_per_epoch
from data.recipes import PytorchRecipe
from helpers.data_references import as_arrays, png, reference_pytorch, reference_train_ids

HEIGHT = 64
# MindSpore's C++ ToTensor multiplies by 1/255 where torchvision's divides by 255: measured difference at
# most 5.96e-8 (one float32 step below 1), on about half the pixels.
TO_TENSOR_TOLERANCE = 6e-8


def rows(dataset, epochs=1):
    """All batches of `epochs` epochs as lists of dicts of numpy arrays."""
    iterator = dataset.create_dict_iterator(num_epochs=epochs, output_numpy=True)
    return [[batch for batch in iterator] for _ in range(epochs)]


def train_set(root, **options):
    settings = dict(recipe="pytorch", height=HEIGHT, batch_size=2, shuffle=True, seed=7, num_workers=2,
                    python_multiprocessing=False)
    return make_dataset(root, "train", **{**settings, **options})


@pytest.fixture(scope="module")
def cache(data_root):
    assert main(["prepare", "--data", str(data_root), "--height", str(HEIGHT)]) == 0
    return data_root / "mindrecord"


def test_rows_equal_the_reference_for_the_drawn_parameters(data_root):
    dataset = train_set(data_root, shuffle=False, with_meta=True, batch_size=3, seed=11)
    rng = np.random.default_rng([11, 0])
    samples = find_samples(data_root, "train")
    batches = rows(dataset)[0]
    assert len(batches) == 4
    for batch in batches:
        assert batch["image"].dtype == np.float32 and batch["label"].dtype == np.int32
        for image, label, index in zip(batch["image"], batch["label"], batch["index"]):
            params = PytorchRecipe(HEIGHT).draw(rng)
            sample = samples[index]
            ids = png(str(sample.label_path).replace("labelTrainIds", "labelIds"))
            train_ids = reference_train_ids(ids)
            reference = reference_pytorch(Image.open(sample.image_path).convert("RGB"),
                                          Image.fromarray(np.where(train_ids == 19, 255, train_ids).astype(np.uint8)),
                                          params, HEIGHT)
            ref_image, ref_label = as_arrays(*reference)
            expected = ref_image.transpose(2, 0, 1).astype(np.float32) / np.float32(255)
            np.testing.assert_array_equal(np.rint(image * 255), ref_image.transpose(2, 0, 1))
            np.testing.assert_allclose(image, expected, rtol=0, atol=TO_TENSOR_TOLERANCE)
            np.testing.assert_array_equal(label, ref_label)
    assert [int(i) for b in batches for i in b["index"]] == list(range(12))


@pytest.mark.parametrize("recipe", ["pytorch", "zoo"])
def test_two_shards_cover_the_split_once_per_epoch(data_root, recipe):
    seen = []
    for shard in range(2):
        epochs = rows(train_set(data_root, recipe=recipe, num_shards=2, shard_id=shard, drop_remainder=True,
                                with_meta=True), epochs=2)
        seen.append([sorted(int(i) for b in epoch for i in b["index"]) for epoch in epochs])
        orders = [[int(i) for b in epoch for i in b["index"]] for epoch in epochs]
        assert orders[0] != orders[1], "each epoch is reshuffled"
    for epoch in range(2):
        assert sorted(seen[0][epoch] + seen[1][epoch]) == list(range(12))


@pytest.mark.parametrize("processes", [False, True])
def test_the_same_seed_gives_the_same_batches(data_root, processes):
    first, again = (rows(train_set(data_root, recipe="zoo", crop_ratio=(1.0, 1.3),
                                   python_multiprocessing=processes), epochs=2) for _ in range(2))
    other = rows(train_set(data_root, recipe="zoo", crop_ratio=(1.0, 1.3), seed=8))
    for epoch_a, epoch_b in zip(first, again):
        for a, b in zip(epoch_a, epoch_b):
            np.testing.assert_array_equal(a["image"], b["image"])
            np.testing.assert_array_equal(a["label"], b["label"])
    assert any(not np.array_equal(a["image"], b["image"]) for a, b in zip(first[0], other[0]))


def test_the_cache_gives_the_same_batches_as_the_pngs(data_root, cache):
    """In sample order: MindDataset and GeneratorDataset shuffle differently for the same seed."""
    for split, recipe in (("train", "pytorch"), ("val", "val")):
        options = dict(recipe=recipe, height=HEIGHT, batch_size=2, shuffle=False, seed=3,
                       drop_remainder=False, with_meta=True)
        direct = rows(make_dataset(data_root, split, **options))[0]
        cached = rows(make_dataset(data_root, split, cache=True, **options))[0]
        assert len(direct) == len(cached) > 0
        for a, b in zip(direct, cached):
            assert a.keys() == b.keys()
            for key in a:
                np.testing.assert_array_equal(a[key], b[key])


def test_validation_rows_carry_native_labels_and_names(data_root):
    samples = find_samples(data_root, "val")
    batches = rows(make_dataset(data_root, "val", recipe="val", height=HEIGHT, batch_size=1, with_meta=True,
                                encoder_labels=True, python_multiprocessing=False))[0]
    assert len(batches) == len(samples) == 4
    for batch, sample in zip(batches, samples):
        assert batch["stem"][0] == sample.stem and batch["relative_path"][0] == sample.relative_path
        assert batch["image"].shape == (1, 3, HEIGHT, 2 * HEIGHT) and batch["label"].shape == (1, 8, 16)
        ids = png(str(sample.label_path).replace("labelTrainIds", "labelIds"))
        np.testing.assert_array_equal(batch["native_label"][0], reference_train_ids(ids))


@pytest.mark.parametrize("batch, shards, drop", [(4, 1, True), (5, 1, False), (5, 2, True), (4, 2, False)])
def test_steps_per_epoch_matches_the_dataset(data_root, batch, shards, drop):
    dataset = train_set(data_root, batch_size=batch, num_shards=shards, drop_remainder=drop)
    assert dataset.get_dataset_size() == steps_per_epoch(12, batch, shards, drop)
    assert steps_per_epoch(12, batch, shards, drop) == len(rows(dataset)[0])


def test_bad_files_stop_the_pipeline_naming_the_file_or_are_skipped(copy_root):
    label = sorted((copy_root / "gtFine" / "val").glob("*/*_labelTrainIds.png"))[2]
    values = png(label).copy()
    values[5, 5] = 200
    Image.fromarray(values).save(label)
    options = dict(recipe="val", height=HEIGHT, batch_size=1, python_multiprocessing=False)
    with pytest.raises(RuntimeError, match=label.name):
        rows(make_dataset(copy_root, "val", **options))
    image = sorted((copy_root / "leftImg8bit" / "val").glob("*/*.png"))[0]
    image.write_bytes(image.read_bytes()[:5000])
    with pytest.raises(RuntimeError, match=image.name):
        rows(make_dataset(copy_root, "val", **options))
    assert len(rows(make_dataset(copy_root, "val", skip_bad=True, **options))[0]) == 2


def test_option_mistakes_are_user_errors(data_root, cache):
    with pytest.raises(UserError, match="cannot use a resized cache"):
        make_dataset(data_root, "train", recipe="zoo", height=HEIGHT, cache=True)
    with pytest.raises(UserError, match="crop_ratio"):
        make_dataset(data_root, "train", recipe="pytorch", height=HEIGHT, crop_ratio=1.2)
    with pytest.raises(UserError, match="unknown recipe"):
        make_dataset(data_root, "train", recipe="fancy", height=HEIGHT)
    with pytest.raises(UserError, match="prepare"):
        make_dataset(data_root, "train", recipe="pytorch", height=32, cache=True)


def test_prepare_skips_bad_samples_and_a_stale_cache_is_an_error(copy_root, capsys):
    label = sorted((copy_root / "gtFine" / "val").glob("*/*_labelTrainIds.png"))[1]
    values = png(label).copy()
    values[0, 0] = 99
    Image.fromarray(values).save(label)
    prepare = ["prepare", "--data", str(copy_root), "--height", str(HEIGHT), "--split", "val"]
    assert main(prepare) == 2
    assert label.name in capsys.readouterr().err
    assert main(prepare + ["--skip-bad"]) == 0
    options = dict(recipe="val", height=HEIGHT, batch_size=1, with_meta=True, cache=True)
    stems = [str(b["stem"][0]) for b in rows(make_dataset(copy_root, "val", **options))[0]]
    assert len(stems) == 3 and label.name.split("_gtFine")[0] not in stems
    image = sorted((copy_root / "leftImg8bit" / "val").glob("*/*.png"))[0]
    image.unlink()
    with pytest.raises(UserError, match="cache but not the split.*prepare"):
        make_dataset(copy_root, "val", skip_bad=True, **options)
    with pytest.raises(UserError, match="prepared at height 64, not 32"):
        make_dataset(copy_root, "val", recipe="val", height=32, skip_bad=True,
                     cache=copy_root / "mindrecord" / "val_h64")
