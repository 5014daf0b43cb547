"""What `erfnet compare-training` reports, on runs made up here: the verdict rule against numbers worked out
by hand, the CSV read back, the PNG written, the throughput, and exit code 1 when the frameworks disagree."""
import csv
import json
import math
from types import SimpleNamespace

import pytest
import yaml

import outcome.comparison
from erfnet.commands import compare_training
from outcome.comparison import EpochPoint, TrainingRun
from outcome.report import CSV_COLUMNS, summarise, verdict, write_curves_csv


def made_up_run(framework, seed, final, epochs=4, every=2, rate=10.0):
    """A run whose val mIoU climbs to `final`, validated every `every` epochs, `rate` images/s in 2 s epochs."""
    points = tuple(EpochPoint(framework, seed, 1, epoch, 2.0 / epoch, final * epoch / epochs if epoch % every == 0
                              else None, rate, 2.0) for epoch in range(1, epochs + 1))
    return TrainingRun(framework, seed, points, wall_seconds=10.0 + seed, cpu_seconds=15.0 + seed)


def runs_with(ours, reference, **kwargs):
    return [made_up_run(framework, seed, final, **kwargs)
            for framework, finals in (("mindspore", ours), ("pytorch", reference))
            for seed, final in enumerate(finals)]


def test_the_verdict_weighs_the_difference_of_the_means_against_twice_the_pooled_sd():
    # sds 0.02 and 0.04 (sample sds): pooled sqrt((0.0004 + 0.0016) / 2) = 0.0316; bound 0.0632
    result = verdict(summarise(runs_with((0.60, 0.62, 0.64), (0.54, 0.58, 0.62))))
    assert result.difference == pytest.approx(0.04)
    assert result.pooled_sd == pytest.approx(math.sqrt(0.001)) and result.bound == pytest.approx(2 * math.sqrt(0.001))
    assert result.passed
    far = verdict(summarise(runs_with((0.60, 0.62, 0.64), (0.50, 0.52, 0.54))))
    assert far.difference == pytest.approx(0.10) and far.bound == pytest.approx(0.04) and not far.passed
    assert "FAIL" in far.line() and "0.1000 > max(0.02, 2 x pooled sd 0.0200) = 0.0400" in far.line()


def test_agreeing_seeds_leave_the_floor_and_one_seed_the_floor_alone():
    close = verdict(summarise(runs_with((0.600, 0.601), (0.585, 0.586))))
    assert close.bound == 0.02 and close.passed
    single = verdict(summarise(runs_with((0.60,), (0.575,))))
    assert math.isnan(single.pooled_sd) and single.bound == 0.02 and not single.passed
    assert "one seed: no spread, the floor alone" in single.line()


def test_the_final_score_is_the_last_validation_and_throughput_counts_every_epoch():
    runs = runs_with((0.6, 0.8), (0.7, 0.7), rate=5.0)
    slower = made_up_run("pytorch", 2, 0.7, rate=20.0)
    summaries = summarise(runs + [slower])
    assert summaries["mindspore"].finals == (0.6, 0.8)
    assert summaries["pytorch"].images_per_s == pytest.approx((2 * 4 * 2 * 5 + 4 * 2 * 20) / (3 * 4 * 2))
    assert summaries["pytorch"].median_epoch_images_per_s == 5.0


def test_the_csv_holds_every_epoch_of_every_run(tmp_path):
    runs = runs_with((0.6, 0.61), (0.59, 0.62))
    write_curves_csv(runs, tmp_path / "curves.csv")
    with open(tmp_path / "curves.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 16
    assert [(row["framework"], row["seed"], row["epoch"], row["val_miou"]) for row in rows[:4]] == \
        [("mindspore", "0", "1", ""), ("mindspore", "0", "2", "0.3"), ("mindspore", "0", "3", ""),
         ("mindspore", "0", "4", "0.6")]
    assert float(rows[-1]["train_loss"]) == 0.5 and float(rows[-1]["seconds"]) == 2.0


@pytest.mark.parametrize("ours, code", [((0.60, 0.62, 0.64), 0), ((0.40, 0.42, 0.44), 1)])
def test_the_command_writes_its_files_and_exits_1_when_the_frameworks_disagree(tmp_path, data_root_free_config,
                                                                               monkeypatch, capsys, ours, code):
    monkeypatch.setattr(outcome.comparison, "compare_training",
                        lambda comparison, quiet: runs_with(ours, (0.6, 0.62, 0.64)))
    args = SimpleNamespace(config=data_root_free_config, data=data_root_free_config.parent, out=tmp_path / "out",
                           seeds=3, start="own", overrides=[], torch_threads=0, device="CPU", quiet=True,
                           resume=False)
    monkeypatch.setattr(outcome.comparison, "split_pairs", lambda root, split, layout: [("image", "label")] * 4)
    monkeypatch.setattr(outcome.comparison, "find_samples", lambda root, split: [])
    assert compare_training.run(args) == code
    out = capsys.readouterr().out
    assert ("verdict: PASS" in out) == (code == 0)
    assert "MindSpore/PyTorch: training images/s 1.00x (median epoch 1.00x), wall time 1.00x, CPU time 1.00x" in out
    assert (tmp_path / "out" / "curves.png").read_bytes()[:4] == b"\x89PNG"
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["verdict"]["passed"] == (code == 0)
    assert summary["frameworks"]["mindspore"]["finals"] == list(ours)


@pytest.fixture
def data_root_free_config(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"seed": 0, "lr0": 1e-3, "batch_size": 2, "height": 32,
                                    "stages": {1: {"network": "full", "epochs": [1, 4], "init": "scratch",
                                                   "augmentation": {"recipe": "pytorch"}}}}))
    return path
