"""Staged training end to end on generated data: the smoke config runs all four stages; a run killed with
SIGKILL inside a checkpoint write (or inside the write of its config) and resumed ends with exactly the weights of an uninterrupted
run and leaves no temporary behind; --resume passes over damaged checkpoints; a
killed msrun worker ends the job at once with one line naming its rank, and --resume then ends bit-identical to
the uninterrupted job; two simulated hosts of two workers each (scripts/run_distribute_train.sh) train one job
equal to one process averaging the four shards' gradients."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from convert import read_weights
from convert.ms_io import load_checkpoint_file
from erfnet.cli import main
from erfnet.launch import free_port
from facts.atomic import is_temporary
from helpers.msrun_runs import averaging_one_process, largest_difference, one_step_envelope, worker_digests
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
DATA_PARALLEL = ["stages.1.epochs=[1,2]", "batch_size=2"]  # two steps per epoch on each of two ranks
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


def end_process_tree(process):
    """SIGKILL a process and everything below it (msrun's workers run in sessions of their own)."""
    import psutil  # a MindSpore dependency
    try:
        tree = psutil.Process(process.pid)
        for child in tree.children(recursive=True) + [tree]:
            child.kill()
    except psutil.NoSuchProcess:
        pass


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


def train_on_msrun(root, out, *extra):
    return main(["train", "--config", str(SMOKE), "--data", str(root), "--out", str(out), "--stages", "1",
                 "--devices", "2", "--quiet", *[f"--set={o}" for o in DATA_PARALLEL], *extra])


@pytest.fixture(scope="module")
def stage1_job(small_root, tmp_path_factory):
    """Stage 1 trained by two msrun workers without interruption (DATA_PARALLEL): the run folder. Read-only."""
    out = tmp_path_factory.mktemp("dp") / "run"
    assert train_on_msrun(small_root, out) == 0
    return out


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


class TestDeadWorker:
    """A killed msrun worker, against the uninterrupted 2-worker job (stage1_job)."""

    def test_a_killed_msrun_worker_ends_the_job_and_resume_ends_bit_identical(self, small_root, stage1_job, tmp_path,
                                                                             capsys, monkeypatch):
        """Rank 1 is SIGKILLed 1 s after epoch 1's checkpoint appears, in the middle of epoch 2 (rank 0 waits for
        it in the gradient all-reduce): the job ends by itself within seconds, exit 1, one line naming rank 1;
        epoch 1's checkpoint is intact; --resume ends with the uninterrupted job's weights, bit for bit."""
        out = tmp_path / "run"
        checkpoint = out / "stage1" / "checkpoints" / "epoch_001.ckpt"
        for key, value in faults(rank=1, after=checkpoint, delay=1).items():
            monkeypatch.setenv(key, value)
        capsys.readouterr()
        assert train_on_msrun(small_root, out) == 1
        ended = time.time()
        _, stderr = capsys.readouterr()
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and "rank 1 was killed by SIGKILL" in lines[0], stderr
        death = checkpoint.stat().st_mtime + 1
        print(f"\njob ended {ended - death:.1f} s after rank 1 died")
        assert ended - death < 30, "the job ends within seconds, not after MindSpore's heartbeat timeout"
        load_checkpoint_file(checkpoint)  # CRC verified: intact
        assert not (out / "stage1" / "checkpoints" / "epoch_002.ckpt").exists()
        assert not (out / "stage1" / "final.ckpt").exists()
        for key in ("ERFNET_KILL_RANK", "ERFNET_KILL_AFTER"):
            monkeypatch.delenv(key)
        assert train_on_msrun(small_root, out, "--resume") == 0
        assert worker_digests(out / "msrun_logs", (0, 1)) == worker_digests(stage1_job / "msrun_logs", (0, 1))
        assert_same_final(out, stage1_job)


class TestTwoHosts:
    """Two simulated hosts of two msrun workers each."""

    def test_two_hosts_of_two_workers_train_one_job_equal_to_one_process_averaging_four_shards(self, small_root,
                                                                                                 tmp_path):
        """scripts/run_distribute_train.sh launched twice with its multi-host variables (NODE_RANK 0 and 1, master
        on 127.0.0.1, CPU): the four ranks end with one digest, equal to one process averaging the four shards."""
        out, overrides = tmp_path / "run", ["stages.1.epochs=[1,1]", "batch_size=2"]
        env = dict(os.environ, WORKERS_TOTAL="4", WORKERS_PER_NODE="2", MASTER_ADDR="127.0.0.1",
                   MASTER_PORT=str(free_port()), DEVICE="CPU",
                   PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
                   PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
        command = ["bash", str(REPO / "scripts" / "run_distribute_train.sh"), str(SMOKE), str(small_root), str(out),
                   "--stages", "1", "--quiet", *[f"--set={o}" for o in overrides]]
        nodes = [subprocess.Popen(command, env=dict(env, NODE_RANK=str(rank)), stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True) for rank in (0, 1)]
        try:
            outputs = [node.communicate(timeout=JOB_TIMEOUT)[0] for node in nodes]
        finally:
            for node in nodes:
                end_process_tree(node)
        assert [node.returncode for node in nodes] == [0, 0], outputs
        digests = worker_digests(out / "msrun_logs", range(4))
        assert len(digests) == 4 and len(set(digests)) == 1, "all four ranks hold the same trained weights"
        config, last_step = read_config(SMOKE, overrides), {}
        net, steps = averaging_one_process(config, 1, small_root, 4, tmp_path, last_step)
        assert steps == 1
        # The bar is one_step_envelope's per element: 4 shards summed in another order differ by float32 ulps,
        # which Adam's first step amplifies up to lr / eps where a gradient is near eps (measured: 1.32e-5 on
        # MindSpore 2.7.1, 5e-7 on 2.10; a flat bar of 1e-5 held on 2.10 by the luck of its summation order).
        envelope = one_step_envelope(last_step, config.weight_decay)
        written = read_weights(out / "stage1" / "final.ckpt").arrays
        excess = {p.name: float(np.max(np.abs(p.asnumpy().astype(np.float64) - written[p.name])
                                       - envelope.get(p.name, 0.0)))  # untrained: equal
                  for p in net.trainable_params()}
        worst = largest_difference(net, out / "stage1" / "final.ckpt")
        print(f"\n2 hosts x 2 msrun workers vs one process averaging 4 shards: max |difference| {worst:.2e}, "
              f"largest envelope {max(float(bound.max()) for bound in envelope.values()):.2e}, "
              f"largest excess {max(excess.values()):.2e}")
        assert max(excess.values()) <= 0, {name: value for name, value in excess.items() if value > 0}
