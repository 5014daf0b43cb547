"""Shared data fixtures: one generated Cityscapes root per test session (made once, reused by every module
that imports these fixtures), and an independent Pillow/numpy reading of its files."""
import shutil

import numpy as np
import pytest
from PIL import Image
from cityscapesscripts.helpers.labels import id2label

from train.data.make_data import make_data

WIDTH = 256
COUNTS = {"train": 12, "val": 4}
_MADE = {}


@pytest.fixture(scope="session")
def data_root(tmp_path_factory):
    """A generated Cityscapes root (12 train, 4 val scenes of 256x128, seed 0). Treat it as read-only."""
    if "root" not in _MADE:
        root = tmp_path_factory.mktemp("cityscapes")
        make_data(root, COUNTS, WIDTH, seed=0)
        _MADE["root"] = root
    return _MADE["root"]


@pytest.fixture
def copy_root(data_root, tmp_path):
    """A private copy of the generated root that a test may damage."""
    target = tmp_path / "cityscapes"
    shutil.copytree(data_root, target, ignore=shutil.ignore_patterns("mindrecord"))
    return target


def reference_train_ids(label_ids):
    """trainIds 0..19 from label ids, one dictionary look-up per distinct id (independent of train.data)."""
    out = np.empty(label_ids.shape, dtype=np.uint8)
    for value in np.unique(label_ids):
        train_id = id2label[int(value)].trainId
        out[label_ids == value] = 19 if train_id in (255, -1) else train_id
    return out


def png(path):
    with Image.open(path) as image:
        return np.asarray(image)
