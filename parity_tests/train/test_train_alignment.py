"""Training takes the upsampler alignment from the weights it starts from: a zoo checkpoint given to --init
trains zoo-aligned with no other flag, and an explicit alignment that differs is announced with its measured
output change."""
import dataclasses

import pytest

from convert import read_weights
from convert.ms_io import write_ms_weights
from helpers.upstream_weights import save_upstream
from train.config import read_config
from data.make_data import make_data
from train.run import train_from_config, with_alignment

SMOKE = "smoke"


@pytest.fixture(scope="module")
def zoo_checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("zoo")
    save_upstream(folder / "net.pth", seed=7)
    write_ms_weights(dataclasses.replace(read_weights(folder / "net.pth"), upsample_align="zoo"), folder / "zoo.ckpt")
    return folder / "zoo.ckpt"


def test_from_weights_follows_the_starting_checkpoint(zoo_checkpoint):
    config = read_config(SMOKE, ["model.upsample_align=from_weights"])
    assert with_alignment(config, zoo_checkpoint).model.upsample_align == "zoo"
    assert with_alignment(config, None).model.upsample_align == "torch"


def test_an_explicit_other_alignment_is_announced_with_the_measured_change(zoo_checkpoint, caplog):
    with caplog.at_level("INFO"):
        config = with_alignment(read_config(SMOKE), zoo_checkpoint)
    assert config.model.upsample_align == "torch"
    said = caplog.messages
    assert len(said) == 1 and "zoo" in said[0] and "torch" in said[0] and "6 pixels" in said[0], said


@pytest.mark.slow
def test_train_init_with_a_zoo_checkpoint_trains_and_writes_zoo_aligned_weights(zoo_checkpoint, tmp_path):
    make_data(tmp_path / "data", {"train": 4, "val": 2}, 64, seed=1)
    train_from_config(SMOKE, tmp_path / "data", tmp_path / "run", stages="4", init=zoo_checkpoint, quiet=True,
                      overrides=["model.upsample_align=from_weights", "stages.4.epochs=[3,3]"])
    final = read_weights(tmp_path / "run" / "stage4" / "final.ckpt")
    assert final.upsample_align == "zoo"
    assert "upsample_align: zoo" in (tmp_path / "run" / "config.yaml").read_text()
