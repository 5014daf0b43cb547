"""The shared data fixtures (registered by parity_tests/conftest.py, asked for by name): one generated Cityscapes
root per test session, and a private copy of it a test may damage."""
import shutil

import pytest

from data.make_data import make_data

WIDTH = 256
COUNTS = {"train": 12, "val": 4}


@pytest.fixture(scope="session")
def data_root(tmp_path_factory):
    """A generated Cityscapes root (12 train, 4 val scenes of 256x128, seed 0). Treat it as read-only."""
    root = tmp_path_factory.mktemp("cityscapes")
    make_data(root, COUNTS, WIDTH, seed=0)
    return root


@pytest.fixture
def copy_root(data_root, tmp_path):
    """A private copy of the generated root that a test may damage."""
    target = tmp_path / "cityscapes"
    shutil.copytree(data_root, target, ignore=shutil.ignore_patterns("mindrecord"))
    return target
