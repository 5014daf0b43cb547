"""The label table equals cityscapesscripts' table, value by value."""
import numpy as np
import pytest
from cityscapesscripts.helpers.labels import id2label, labels as official, trainId2label
from hypothesis import given, settings, strategies as st

from facts import labels

KNOWN_IDS = sorted(label.id for label in official if label.id >= 0)


def expected_train_id(label_id):
    train_id = id2label[label_id].trainId
    return 19 if train_id in (255, -1) else train_id


def test_every_known_id_maps_as_the_official_table():
    ids = np.array(KNOWN_IDS, dtype=np.uint8)
    assert labels.label_ids_to_train_ids(ids).tolist() == [expected_train_id(i) for i in KNOWN_IDS]
    assert len(KNOWN_IDS) == 34


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from(KNOWN_IDS), min_size=1, max_size=200), st.integers(1, 4))
def test_arrays_of_ids_map_elementwise(values, rows):
    array = np.array(values * rows, dtype=np.uint8).reshape(rows, -1)
    expected = np.vectorize(expected_train_id)(array)
    np.testing.assert_array_equal(labels.label_ids_to_train_ids(array), expected)


@pytest.mark.parametrize("bad", [34, 100, 254, 255])
def test_ids_outside_the_table_are_named(bad):
    with pytest.raises(ValueError, match=str(bad)):
        labels.label_ids_to_train_ids(np.array([[7, bad]], dtype=np.uint8))


def test_train_id_files_keep_0_to_18_and_map_255_to_void():
    values = np.arange(256)
    valid = (values < 19) | (values == 255)
    mapped = labels.train_id_file_to_train_ids(values[valid].astype(np.uint8))
    assert mapped.tolist() == list(range(19)) + [19]
    for bad in values[~valid][::40]:
        with pytest.raises(ValueError, match=str(bad)):
            labels.train_id_file_to_train_ids(np.array([bad], dtype=np.uint8))


def test_names_palette_and_inverse_map_come_from_cityscapesscripts():
    assert labels.CLASS_NAMES == tuple(trainId2label[i].name for i in range(19))
    assert labels.CLASS_NAMES[0] == "road" and labels.CLASS_NAMES[18] == "bicycle"
    assert labels.palette().tolist() == [list(trainId2label[i].color) for i in range(19)] + [[0, 0, 0]]
    train_ids = np.array([[0, 5, 18, 19, 255]])
    assert labels.train_ids_to_label_ids(train_ids).tolist() == [[7, 17, 33, 0, 0]]
    all_train_ids = np.arange(20)
    round_trip = labels.label_ids_to_train_ids(labels.train_ids_to_label_ids(all_train_ids))
    assert round_trip.tolist() == list(range(20))
