"""Training learns: the shipped learn.yaml (the full network from scratch, height 64) on 32 generated scenes reaches
val mIoU >= 0.6 on 8 others, scored by the validation `erfnet eval` uses (measured: 0.67 after 120 epochs,
2.5 minutes on this project's 2-core CPU; bench/train_learns.py prints the curve)."""
from data.make_data import make_data
from train.run import train_from_config

CONFIG = "learn"


def test_learn_config_reaches_val_miou_0_6_on_generated_scenes(tmp_path):
    make_data(tmp_path / "scenes", {"train": 32, "val": 8}, 128, seed=0)
    result = train_from_config(CONFIG, tmp_path / "scenes", tmp_path / "run", quiet=True)[-1]
    assert result.best_miou >= 0.6
