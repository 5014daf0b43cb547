"""Training learns: `erfnet demo`'s staged training (the shipped demo.yaml: the encoder stage, then the full
network from it) on the demo's generated scenes ends with val mIoU >= 0.6, scored by the validation `erfnet
eval` uses, so the model the demo shows segments (measured: README "The demo")."""
import pytest

from data.make_data import make_data
from erfnet.commands.demo import DEMO_CONFIG, SCENES, SEED, WIDTH
from train.run import train_from_config


@pytest.mark.slow
def test_the_demos_staged_training_reaches_val_miou_0_6_on_its_scenes(tmp_path):
    make_data(tmp_path / "scenes", SCENES, WIDTH, seed=SEED)
    encoder, full = train_from_config(DEMO_CONFIG, tmp_path / "scenes", tmp_path / "run", quiet=True,
                                      overrides=(f"seed={SEED}",))
    assert encoder.best_miou > 0.2, "the encoder stage learns too"
    assert full.last_miou >= 0.6, "the final weights, which the demo evaluates and exports"
