"""Class weights from the labels (data/class_weights.py) against an independent computation: per-class counts by
np.unique at full resolution and at 1/8 (the pixel at the centre of each 8x8 cell, which nearest downsampling by 8
picks), ENet's formula with math.log; the cache keyed by the labels' digest (a label added later is counted), an
id out of range named, and the config's weights checked against the data's class count."""
import math

import numpy as np
import pytest
import yaml
from hypothesis import given, settings, strategies as st
from PIL import Image

from data import class_weights as weights_module
from data.class_weights import class_histograms, enet_weights, loss_weights
from facts.errors import UserError
from facts.spec import class_weights as published
from train.config import parse_config, read_config, resolved_yaml
from train.run import planned_run


def write_dataset(root, labels, classes):
    root.mkdir(parents=True, exist_ok=True)
    (root / "classes.yaml").write_text(yaml.safe_dump({"names": [f"c{i}" for i in range(classes)]}))
    for index, label in enumerate(labels):
        for kind, array in (("labels", label), ("images", np.zeros(label.shape + (3,), np.uint8))):
            path = root / kind / "train" / f"s{index:03d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(array).save(path)


def independent_counts(labels, classes, step=1, offset=0):
    counts = [0] * classes
    for label in labels:
        values, numbers = np.unique(label[offset::step, offset::step], return_counts=True)
        for value, number in zip(values.tolist(), numbers.tolist()):
            if value < classes:
                counts[value] += number
    return counts


def independent_weights(counts, c):
    total = sum(counts)
    return [1 / math.log(c + count / total) for count in counts]


@st.composite
def label_sets(draw):
    classes = draw(st.integers(2, 9))
    rows, columns = draw(st.sampled_from([(8, 16), (16, 24), (24, 48)]))
    count = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    labels = [rng.choice(np.append(np.arange(classes), 255), size=(rows, columns),
                         p=np.append(rng.dirichlet(np.ones(classes)) * 0.9, 0.1)).astype(np.uint8)
              for _ in range(count)]
    labels[0].flat[0] = 0  # at least one labelled pixel
    labels[0][4, 4] = 0
    return classes, labels


@settings(max_examples=15)
@given(label_sets(), st.sampled_from([1.02, 1.1, 1.5]))
def test_histograms_and_weights_are_an_independent_count_and_formula(tmp_path_factory, case, c):
    classes, labels = case
    root = tmp_path_factory.mktemp("weights")
    write_dataset(root, labels, classes)
    counts = class_histograms(root)
    assert counts["full"].tolist() == independent_counts(labels, classes)
    assert counts["encoder"].tolist() == independent_counts(labels, classes, step=8, offset=4)
    for network, step, offset in (("full", 1, 0), ("encoder", 8, 4)):
        expected = independent_weights(independent_counts(labels, classes, step, offset), c)
        assert loss_weights(root, network, "labels", c) == pytest.approx(expected + [0.0], rel=1e-12)


def test_the_counts_are_cached_and_a_label_added_later_is_counted(tmp_path, monkeypatch):
    labels = [np.full((8, 16), 1, np.uint8), np.zeros((8, 16), np.uint8)]
    write_dataset(tmp_path, labels, 3)
    assert class_histograms(tmp_path)["full"].tolist() == [128, 128, 0]
    assert (tmp_path / "class_histogram_train.json").is_file()

    def no_counting(*args):
        raise AssertionError("counted again")

    monkeypatch.setattr(weights_module, "count_classes", no_counting)
    assert class_histograms(tmp_path)["full"].tolist() == [128, 128, 0]
    monkeypatch.undo()
    write_dataset(tmp_path, labels + [np.full((8, 16), 2, np.uint8)], 3)
    assert class_histograms(tmp_path)["full"].tolist() == [128, 128, 128]
    Image.fromarray(np.full((8, 16), 1, np.uint8)).save(tmp_path / "labels" / "train" / "s001.png")
    assert class_histograms(tmp_path)["full"].tolist() == [0, 256, 128]


def test_an_id_out_of_range_is_one_line_naming_its_file(tmp_path):
    label = np.zeros((8, 16), np.uint8)
    label[2, 3] = 3
    write_dataset(tmp_path, [np.zeros((8, 16), np.uint8), label], 3)
    with pytest.raises(UserError) as error:
        loss_weights(tmp_path, "full", "labels")
    assert str(error.value).startswith(f"{tmp_path / 'labels' / 'train' / 's001.png'}: class ids [3] outside 0..2")
    assert "\n" not in str(error.value)


def test_given_weights_must_match_the_class_count_and_published_ones_need_cityscapes(tmp_path, data_root):
    write_dataset(tmp_path, [np.zeros((8, 16), np.uint8)], 3)
    assert loss_weights(tmp_path, "full", (1.0, 2.0, 3.0)) == (1.0, 2.0, 3.0, 0.0)
    with pytest.raises(UserError, match="class weights: 2 weights given; .*classes.yaml has 3 classes"):
        loss_weights(tmp_path, "full", (1.0, 2.0))
    with pytest.raises(UserError, match="are erfnet_pytorch's, for Cityscapes"):
        loss_weights(tmp_path, "full", "published")
    assert loss_weights(tmp_path, "encoder", "uniform") == (1.0, 1.0, 1.0, 0.0)
    assert loss_weights(data_root, "encoder") == published("encoder")


def test_the_formula_bounds_rare_and_frequent_classes():
    weights = enet_weights([0, 1, 10 ** 9])
    assert weights[0] == pytest.approx(1 / math.log(1.02)) and weights[2] == pytest.approx(1 / math.log(2.02), 1e-6)
    with pytest.raises(UserError, match="no labelled pixel"):
        enet_weights([0, 0])


@pytest.mark.parametrize("field, value, words", [
    ("class_weights", "median", "must be one of auto, published, labels, uniform"),
    ("class_weights", [1.0], "give one weight >= 0 per class"),
    ("class_weights", [1.0, -2.0], "give one weight >= 0 per class"),
    ("enet_c", 1.0, "must be > 1.0"),
])
def test_the_configs_loss_fields_are_checked_naming_the_field(field, value, words):
    raw = yaml.safe_load(resolved_yaml(read_config("own_data")))
    raw["loss"][field] = value
    with pytest.raises(UserError, match=f"config field loss.{field}: {words}"):
        parse_config(raw)


def test_a_run_checks_its_weights_against_the_data_before_it_writes_anything(tmp_path):
    write_dataset(tmp_path / "data", [np.zeros((8, 16), np.uint8)], 3)
    config, _ = planned_run("own_data", tmp_path / "data", tmp_path / "run")
    assert config.model.num_classes == 3
    with pytest.raises(UserError, match=r"config field loss.class_weights: 2 weights given; .* has 3 classes"):
        planned_run("own_data", tmp_path / "data", tmp_path / "run", ["loss.class_weights=[1, 2]"])
    with pytest.raises(UserError, match="the config's model.num_classes has 20 classes; .* has 3"):
        planned_run("own_data", tmp_path / "data", tmp_path / "run", ["model.num_classes=20"])
    assert not (tmp_path / "run").exists()
