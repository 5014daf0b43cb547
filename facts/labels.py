"""The Cityscapes label table as this project uses it, derived from `cityscapesscripts.helpers.labels`.

The network has 20 output channels: the 19 evaluated trainIds and a "void" channel (19) that takes every
ignored id (trainId 255 in the official table).
"""
import numpy as np
from cityscapesscripts.helpers.labels import labels as _OFFICIAL_LABELS

VOID = 19
IGNORE_TRAIN_ID = 255
NUM_CLASSES = VOID + 1

_EVALUATED = sorted((label for label in _OFFICIAL_LABELS if 0 <= label.trainId < IGNORE_TRAIN_ID),
                    key=lambda label: label.trainId)
CLASS_NAMES = tuple(label.name for label in _EVALUATED)
TRAIN_ID_TO_LABEL_ID = np.array([label.id for label in _EVALUATED] + [0], dtype=np.uint8)


def _id_lookup():
    """A 256-entry table id -> trainId (0..19); ids the official table lacks map to -1 (invalid)."""
    table = np.full(256, -1, dtype=np.int16)
    for label in _OFFICIAL_LABELS:
        if 0 <= label.id < 256:
            table[label.id] = label.trainId if 0 <= label.trainId < IGNORE_TRAIN_ID else VOID
    return table


def _train_id_lookup():
    """A 256-entry table for labelTrainIds PNG values: 0..18 stay, 255 becomes void, the rest are invalid."""
    table = np.full(256, -1, dtype=np.int16)
    table[:VOID] = np.arange(VOID)
    table[IGNORE_TRAIN_ID] = VOID
    return table


ID_TO_TRAIN_ID = _id_lookup()
TRAIN_ID_FILE_TO_TRAIN_ID = _train_id_lookup()


def _apply(table, array, kind):
    array = np.asarray(array)
    if array.dtype != np.uint8:
        if array.size and (array.min() < 0 or array.max() > 255):
            raise ValueError(f"{kind} outside 0..255")
        array = array.astype(np.uint8)
    mapped = table[array]
    if mapped.size and mapped.min() < 0:
        bad = np.unique(array[mapped < 0])
        raise ValueError(f"{kind} not in the Cityscapes label table: {bad[:10].tolist()}")
    return mapped.astype(np.uint8)


def label_ids_to_train_ids(array):
    """Map Cityscapes label ids (a `_gtFine_labelIds.png` array) to trainIds 0..18 with ignored ids -> 19.

    Raises ValueError naming the offending values when an id is not in the official table.
    """
    return _apply(ID_TO_TRAIN_ID, array, "label ids")


def train_id_file_to_train_ids(array):
    """Map a `_gtFine_labelTrainIds.png` array (0..18 and 255) to 0..19; other values raise ValueError."""
    return _apply(TRAIN_ID_FILE_TO_TRAIN_ID, array, "trainIds")


def train_ids_to_label_ids(array):
    """Map trainIds 0..18 back to Cityscapes label ids; void (19, or 255) becomes 0 ("unlabeled"),
    which the official evaluator ignores."""
    array = np.asarray(array)
    ids = np.zeros(array.shape, dtype=np.uint8)
    evaluated = (array >= 0) & (array < VOID)
    ids[evaluated] = TRAIN_ID_TO_LABEL_ID[array[evaluated]]
    return ids


def palette():
    """The trainId colours as a uint8 array [20, 3]: the official colours, void black."""
    colours = [label.color for label in _EVALUATED] + [(0, 0, 0)]
    return np.array(colours, dtype=np.uint8)
