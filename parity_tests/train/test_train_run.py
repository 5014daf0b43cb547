"""Staged training end to end on generated data: the smoke config runs all four stages; a run killed with
SIGKILL inside a checkpoint write (or inside the write of its config) and resumed ends with exactly the weights of
an uninterrupted run and leaves no temporary behind; --resume passes over damaged checkpoints. Jobs of several
msrun workers (a killed worker, two hosts) are tested in parity_tests/cli/test_msrun_jobs.py."""
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from convert import read_weights
from erfnet.cli import main
from facts.atomic import is_temporary
from train.config import read_config
from data.make_data import make_data
from train.run import planned_run, train_from_config
from train.run_folder import open_run
from train.schedule import poly_learning_rate

pytestmark = pytest.mark.slow  # every test here trains

REPO = Path(__file__).resolve().parents[2]
SMOKE = "smoke"
FAULTS = Path(__file__).resolve().parents[1] / "helpers" / "fault_injection"
WITH_DROPOUT = ["stages.1.dropout.enc64=0.03", "stages.1.dropout.enc128=0.3", "stages.1.epochs=[1,3]",
                "stages.2.epochs=[4,4]", "poly.epochs=6"]
JOB_TIMEOUT = 600  # seconds; a hang fails the test instead of blocking the suite


@pytest.fixture(scope="module")
def small_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("scenes")
    make_data(root, {"train": 8, "val": 4}, 64, seed=1)
    return root


def checkpoint_arrays(path):
    return read_weights(path).arrays


def test_smoke_config_runs_all_four_stages(small_root, tmp_path):
    run = tmp_path / "run"
    results = train_from_config(SMOKE, small_root, run, quiet=True)
    config = read_config(SMOKE)
    assert [r.stage for r in results] == [1, 2, 3, 4]
    assert (run / "config.yaml").is_file() and read_config(run / "config.yaml").stages == config.stages
    for stage in config.stages:
        folder = run / stage.name
        records = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
        assert [r["epoch"] for r in records] == [stage.first_epoch, stage.last_epoch]
        for record in records:
            assert record["lr"] == pytest.approx(poly_learning_rate(config.lr0, record["epoch"], 4, 0.9))
            assert 0 <= record["val_miou"] <= 1 and record["images_per_s"] > 0 and record["loss"] > 0
        assert sorted(p.name for p in (folder / "checkpoints").iterdir()) == [
            f"epoch_{e:03d}.ckpt" for e in (stage.first_epoch, stage.last_epoch)]
        assert (folder / "best.ckpt").is_file()
    finals = {n: checkpoint_arrays(run / f"stage{n}" / "final.ckpt") for n in (1, 2, 3, 4)}
    np.testing.assert_array_equal(finals[4]["decoder.output_conv.weight"], results[3].final_weights.arrays["decoder.output_conv.weight"])
    # The encoder stages never touch the decoder; stage 3 starts from stage 2's encoder and head and does not
    # train the head; stage 4 continues stage 3 (its head too).
    assert not np.array_equal(finals[1]["encoder.layers.0.conv.weight"], finals[2]["encoder.layers.0.conv.weight"])
    np.testing.assert_array_equal(finals[1]["decoder.layers.0.conv.weight"], finals[2]["decoder.layers.0.conv.weight"])
    for name in ("encoder.output_conv.weight", "encoder.output_conv.bias"):
        np.testing.assert_array_equal(finals[2][name], finals[3][name])
        np.testing.assert_array_equal(finals[3][name], finals[4][name])
    assert main(["train", "--config", str(SMOKE), "--data", str(small_root), "--out", str(run)]) == 2


def train_command(root, out, *extra):
    return [sys.executable, "-m", "erfnet.cli", "train", "--config", str(SMOKE), "--data", str(root),
            "--out", str(out), "--stages", "1", "--quiet", *[f"--set={o}" for o in WITH_DROPOUT], *extra]


def faults(**kills):
    """Environment variables that put fault_injection/ on a process's path with the given ERFNET_KILL_* faults."""
    path = os.pathsep.join([str(FAULTS), str(REPO), os.environ.get("PYTHONPATH", "")])
    return dict(PYTHONPATH=path, **{f"ERFNET_KILL_{key.upper()}": str(value) for key, value in kills.items()})


def temporaries(folder):
    return sorted(path.relative_to(folder) for path in Path(folder).rglob("*") if is_temporary(path))


@pytest.fixture(scope="module")
def whole_run(small_root, tmp_path_factory):
    """Stage 1 with dropout trained without interruption: (run folder, StageResult). Read-only."""
    out = tmp_path_factory.mktemp("whole") / "run"
    return out, train_from_config(SMOKE, small_root, out, overrides=WITH_DROPOUT, stages="1", quiet=True)[0]


def assert_same_final(run, reference_run):
    whole, again = (checkpoint_arrays(folder / "stage1" / "final.ckpt") for folder in (reference_run, run))
    for name, array in whole.items():
        np.testing.assert_array_equal(again[name], array, err_msg=name)


def test_a_kill_while_a_run_records_its_config_leaves_a_folder_that_is_still_the_run(small_root, tmp_path):
    """The marker is written before config.yaml: killed between the two (inside config.yaml's rename), the folder
    is still a run, and the next command removes the temporary and writes the config."""
    out = tmp_path / "run"
    ended = subprocess.run(train_command(small_root, out), env=dict(os.environ, **faults(in_replace="config.yaml")),
                           capture_output=True, timeout=JOB_TIMEOUT)
    assert ended.returncode == -signal.SIGKILL
    assert (out / "erfnet_run.json").is_file() and not (out / "config.yaml").exists()
    assert [path.name.startswith(".config.yaml.") for path in temporaries(out)] == [True]
    config, chosen = planned_run(SMOKE, small_root, out, WITH_DROPOUT, "1")
    open_run(out, config, chosen, resume=True)
    assert temporaries(out) == [] and read_config(out / "config.yaml") == config


class TestInterruptedRuns:
    """Kills and damage on one device, against the uninterrupted run they share (whole_run). Classes keep
    tests that share a fixture on one of `make test`'s workers (--dist loadscope) and let the long ones run side
    by side."""

    def test_a_kill_inside_a_checkpoint_write_leaves_a_temporary_that_resume_removes(self, small_root, whole_run,
                                                                                      tmp_path):
        """SIGKILL inside MindSpore's rename of epoch 2's checkpoint: MindSpore's finished temporary stays behind,
        epoch 2's checkpoint is missing; --resume removes the temporary, resumes after epoch 1 and ends
        bit-identical."""
        reference_run, reference = whole_run
        out = tmp_path / "killed"
        ended = subprocess.run(train_command(small_root, out), env=dict(os.environ, **faults(in_rename=".epoch_002.")),
                               capture_output=True, timeout=JOB_TIMEOUT)
        assert ended.returncode == -signal.SIGKILL
        left = temporaries(out)
        assert [path.name.startswith(".epoch_002.ckpt.") and path.name.endswith(".tmp.tmp") for path in left] == [True]
        assert (out / left[0]).stat().st_size > 10 ** 6, "MindSpore had written the whole checkpoint"
        assert not (out / "stage1" / "checkpoints" / "epoch_002.ckpt").exists()
        resumed = train_from_config(SMOKE, small_root, out, overrides=WITH_DROPOUT, stages="1", resume=True,
                                    quiet=True)[0]
        assert resumed.digest == reference.digest and temporaries(out) == []
        assert_same_final(out, reference_run)
        epochs = (out / "stage1" / "metrics.jsonl").read_text().splitlines()
        assert len(epochs) == 3, "epoch 2's line, written before its lost checkpoint, was trimmed and written again"

    def test_resume_passes_over_a_damaged_checkpoint_to_the_newest_intact_one(self, small_root, whole_run, tmp_path,
                                                                               caplog):
        reference_run, reference = whole_run
        truncated_last, truncated_final = tmp_path / "last", tmp_path / "final"
        for copy in (truncated_last, truncated_final):
            shutil.copytree(reference_run, copy)
        (truncated_last / "stage1" / "final.ckpt").unlink()
        for damaged in (truncated_last / "stage1" / "checkpoints" / "epoch_003.ckpt", truncated_final / "stage1" /
                        "final.ckpt"):
            os.chmod(damaged, 0o600)
            data = damaged.read_bytes()
            damaged.write_bytes(data[:len(data) // 2])
        with caplog.at_level("INFO"):
            resumed = train_from_config(SMOKE, small_root, truncated_last, overrides=WITH_DROPOUT, stages="1",
                                        resume=True, quiet=True)[0]
        assert resumed.digest == reference.digest
        assert "passing over" in caplog.text and "epoch_003.ckpt" in caplog.text and "after epoch 2" in caplog.text
        assert_same_final(truncated_last, reference_run)
        caplog.clear()
        with caplog.at_level("INFO"):
            resumed = train_from_config(SMOKE, small_root, truncated_final, overrides=WITH_DROPOUT, stages="1",
                                        resume=True, quiet=True)[0]
        assert "final.ckpt" in caplog.text and "from its epoch checkpoints" in caplog.text
        assert resumed.digest == reference.digest
        assert_same_final(truncated_final, reference_run)
