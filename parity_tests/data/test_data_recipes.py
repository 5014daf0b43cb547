"""Both recipes equal an independent Pillow reference for fixed parameters, and their random parameters
have the right distributions."""
import mindspore.dataset.vision  # noqa: F401  (imported before hypothesis runs: it raises the recursion limit)
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from PIL import Image, ImageOps

from data.cityscapes import find_samples, read_sample
from data.recipes import PytorchParams, PytorchRecipe, ValRecipe, ZooParams, ZooRecipe, encoder_label
from helpers.data_references import as_arrays, png, reference_pytorch, reference_train_ids, reference_zoo

HEIGHT = 64
# Measured on generated scenes over a grid (blur radius 0.05..0.95, no crop and crop ratios 1.0..1.29 at each
# corner): after the resize, the C++ Gaussian blur differs from Pillow's box-blur approximation by a mean of
# at most 0.46 grey levels and by at most 21 levels at a single pixel, at 256x128 -> 128x64 and at
# 2048x1024 -> 1024x512 alike (random draws average 0.24).
ZOO_MEAN_TOLERANCE = 0.6
ZOO_MAX_TOLERANCE = 24


@pytest.fixture(scope="module")
def pictures(data_root):
    """(image, label) Pillow pictures as erfnet_pytorch loads them: RGB, and trainIds with 255 = ignore."""
    pairs = []
    for sample in find_samples(data_root, "train")[:4]:
        image = Image.open(sample.image_path).convert("RGB")
        label_ids = png(str(sample.label_path).replace("labelTrainIds", "labelIds"))
        train_ids = reference_train_ids(label_ids)
        pairs.append((image, Image.fromarray(np.where(train_ids == 19, 255, train_ids).astype(np.uint8))))
    return pairs


def ours(recipe, image, label, params):
    return recipe.apply(np.asarray(image), as_arrays(image, label)[1].astype(np.uint8), params)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 3), st.booleans(), st.integers(-2, 2), st.integers(-2, 2))
def test_pytorch_recipe_is_bit_exact(pictures, which, flip, shift_x, shift_y):
    params = PytorchParams(flip, shift_x, shift_y)
    image, label = pictures[which]
    got = ours(PytorchRecipe(HEIGHT), image, label, params)
    expected = as_arrays(*reference_pytorch(image, label, params, HEIGHT))
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])


def test_positive_shifts_equal_erfnet_pytorch_expand_and_crop(pictures):
    image, label = pictures[0]
    image, label = image.resize((128, 64), Image.BILINEAR), label.resize((128, 64), Image.NEAREST)
    for tx, ty in [(0, 0), (2, 1), (1, 2)]:
        upstream_image = ImageOps.expand(image, border=(tx, ty, 0, 0), fill=0).crop((0, 0, 128, 64))
        upstream_label = ImageOps.expand(label, border=(tx, ty, 0, 0), fill=255).crop((0, 0, 128, 64))
        got = PytorchRecipe(HEIGHT).augment(*as_arrays(image, label), PytorchParams(False, tx, ty))
        np.testing.assert_array_equal(got[0], np.asarray(upstream_image))
        np.testing.assert_array_equal(got[1], as_arrays(upstream_image, upstream_label)[1])


def test_negative_shift_fills_the_label_with_void_not_road(pictures):
    image, label = pictures[1]
    got_image, got_label = ours(PytorchRecipe(HEIGHT), image, label, PytorchParams(False, -2, -1))
    assert (got_label[:, -2:] == 19).all() and (got_label[-1:, :] == 19).all()
    assert (got_image[:, -2:] == 0).all()


def zoo_difference(pictures, params):
    image, label = pictures[params.corner]
    crop_ratio = (1.0, 1.3)
    got = ours(ZooRecipe(HEIGHT, crop_ratio=crop_ratio), image, label, params)
    expected = as_arrays(*reference_zoo(image, label, params, HEIGHT))
    np.testing.assert_array_equal(got[1], expected[1])
    assert got[0].shape == expected[0].shape
    difference = np.abs(got[0].astype(int) - expected[0])
    return difference.mean(), difference.max()


@settings(max_examples=30, deadline=None)
@given(st.booleans(), st.floats(1.0, 1.29), st.integers(0, 3), st.booleans())
def test_zoo_recipe_without_blur_is_bit_exact(pictures, crop, ratio, corner, flip):
    assert zoo_difference(pictures, ZooParams(0.0, crop, ratio, corner, flip)) == (0, 0)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.floats(0.05, 0.999), st.booleans(), st.floats(1.0, 1.29), st.integers(0, 3), st.booleans())
def test_zoo_recipe_with_blur_is_within_the_measured_tolerance(pictures, radius, crop, ratio, corner, flip):
    mean, worst = zoo_difference(pictures, ZooParams(radius, crop, ratio, corner, flip))
    assert mean <= ZOO_MEAN_TOLERANCE and worst <= ZOO_MAX_TOLERANCE


def test_validation_resizes_only_and_encoder_labels_are_pil_nearest_at_one_eighth(data_root):
    sample = find_samples(data_root, "val")[0]
    image, label = read_sample(sample)
    got_image, got_label = ValRecipe(HEIGHT).apply(image, label, None)
    picture = Image.open(sample.image_path).convert("RGB")
    np.testing.assert_array_equal(got_image, np.asarray(picture.resize((128, 64), Image.BILINEAR)))
    np.testing.assert_array_equal(got_label, np.asarray(Image.fromarray(label).resize((128, 64), Image.NEAREST)))
    small = encoder_label(got_label, HEIGHT)
    np.testing.assert_array_equal(small, np.asarray(Image.fromarray(got_label).resize((16, 8), Image.NEAREST)))


def draws(recipe, count, seed):
    rng = np.random.default_rng(seed)
    return [recipe.draw(rng) for _ in range(count)]


def within(rate, p, count, sigmas=5):
    return abs(rate - p) <= sigmas * np.sqrt(p * (1 - p) / count)


def test_pytorch_parameter_distributions():
    count = 20000
    params = draws(PytorchRecipe(), count, seed=1)
    assert within(np.mean([p.flip for p in params]), 0.5, count)
    for axis in ("shift_x", "shift_y"):
        values = np.array([getattr(p, axis) for p in params])
        assert set(values.tolist()) == {-2, -1, 0, 1, 2}
        for value in range(-2, 3):
            assert within(np.mean(values == value), 0.2, count)
    wider = draws(PytorchRecipe(flip_p=0.1, max_shift=4), count, seed=2)
    assert within(np.mean([p.flip for p in wider]), 0.1, count)
    assert {p.shift_x for p in wider} == set(range(-4, 5))


def test_zoo_parameter_distributions():
    count = 20000
    params = draws(ZooRecipe(crop_ratio=(1.0, 1.3)), count, seed=3)
    ratios = np.array([p.crop_ratio for p in params])
    radii = np.array([p.blur_radius for p in params])
    assert ratios.min() >= 1.0 and ratios.max() < 1.3
    assert np.histogram(ratios, bins=6, range=(1.0, 1.3))[0].min() > count / 6 * 0.9
    assert radii.min() >= 0.0 and radii.max() < 1.0 and abs(radii.mean() - 0.5) < 0.01
    assert within(np.mean([p.crop for p in params]), 0.5, count)
    assert within(np.mean([p.flip for p in params]), 0.5, count)
    for corner in range(4):
        assert within(np.mean([p.corner == corner for p in params]), 0.25, count)
    assert {p.crop_ratio for p in draws(ZooRecipe(crop_ratio=1.2), 500, seed=4)} == {1.2}


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(1.0, 1.5), st.floats(0.0, 0.5))
def test_parameters_stay_in_range_for_any_seed(seed, low, width):
    for p in draws(ZooRecipe(crop_ratio=(low, low + width)), 50, seed):
        assert low <= p.crop_ratio <= low + width and 0 <= p.blur_radius < 1
    for p in draws(PytorchRecipe(), 50, seed):
        assert -2 <= p.shift_x <= 2 and -2 <= p.shift_y <= 2
        assert PytorchParams.from_vector(p.to_vector()) == p
