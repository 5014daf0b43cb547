"""Staged training end to end on generated data: the smoke config runs all four stages; a run killed with
SIGKILL and resumed ends with exactly the weights of an uninterrupted run; `--devices 2` through msrun keeps
both ranks identical and equals one process averaging the same per-rank gradients (the run of msrun_runs.py)."""
import json
import os
import signal
import subprocess
import sys
import time

import mindspore as ms
import numpy as np
import pytest

from console_lines import unwanted
from convert import read_weights
from erfnet.cli import main
from train.config import read_config
from ms_erfnet.devices import Devices
from ms_erfnet.loss import WeightedCrossEntropy
from data.make_data import make_data
from msrun_runs import two_worker_run, worker_log  # noqa: F401  (fixture)
from train.optim import make_adam, set_learning_rate, trained_parameters
from train.run import train_from_config
from train.schedule import poly_learning_rate
from train.stage import StageRunner, stage_network

pytestmark = pytest.mark.slow  # every test here trains

SMOKE = "smoke"
WITH_DROPOUT = ["stages.1.dropout.enc64=0.03", "stages.1.dropout.enc128=0.3", "stages.1.epochs=[1,3]",
                "stages.2.epochs=[4,4]", "poly.epochs=6"]


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
    again = train_from_config(SMOKE, small_root, tmp_path / "again", stages="3", init=run / "stage2" / "final.ckpt",
                              quiet=True)
    assert again[0].digest == results[2].digest, "--init FILE gives stage 3 the start it had after stage 2"


def train_command(root, out, *extra):
    return [sys.executable, "-m", "erfnet.cli", "train", "--config", str(SMOKE), "--data", str(root),
            "--out", str(out), "--stages", "1", "--quiet", *[f"--set={o}" for o in WITH_DROPOUT], *extra]


def test_killed_and_resumed_run_ends_with_the_uninterrupted_weights(small_root, tmp_path):
    reference = train_from_config(SMOKE, small_root, tmp_path / "whole", overrides=WITH_DROPOUT, stages="1",
                                  quiet=True)[0]
    out = tmp_path / "killed"
    process = subprocess.Popen(train_command(small_root, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marker = out / "stage1" / "checkpoints" / "epoch_001.ckpt"
    deadline = time.monotonic() + 240
    while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert marker.exists() and not (out / "stage1" / "final.ckpt").exists(), "killed before the end of epoch 1"
    resumed = train_from_config(SMOKE, small_root, out, overrides=WITH_DROPOUT, stages="1", resume=True,
                                quiet=True)[0]
    assert resumed.digest == reference.digest
    whole, again = checkpoint_arrays(tmp_path / "whole" / "stage1" / "final.ckpt"), checkpoint_arrays(
        out / "stage1" / "final.ckpt")
    for name, array in whole.items():
        np.testing.assert_array_equal(again[name], array, err_msg=name)
    epochs = [line for line in (out / "stage1" / "metrics.jsonl").read_text().splitlines()]
    assert len(epochs) == 3


def test_two_msrun_workers_equal_one_process_averaging_their_gradients(two_worker_run, tmp_path):
    out, root = two_worker_run.out, two_worker_run.root
    digests = [line.split()[-1] for rank in (0, 1) for line in worker_log(out, rank).splitlines()
               if line.startswith(f"stage2 rank {rank} weights digest")]
    assert len(digests) == 2 and digests[0] == digests[1], "both ranks hold the same trained weights"
    config = read_config(SMOKE, two_worker_run.overrides)
    stage = config.stage(2)
    net, _, _ = stage_network(config, stage, Devices())
    net.set_train(True)
    optimizer = make_adam(trained_parameters(net, stage.network), config.lr0, config.weight_decay)
    loss_fn = WeightedCrossEntropy("encoder")
    grad_fn = ms.value_and_grad(lambda x, y: loss_fn(net(x, True), y), None, optimizer.parameters)
    steps = 0
    for epoch in (stage.first_epoch, stage.last_epoch):
        set_learning_rate(optimizer, poly_learning_rate(config.lr0, epoch, config.poly.epochs, config.poly.power))
        shards = [list(StageRunner(config, stage, root, tmp_path, Devices(rank, 2)).dataset(epoch)
                       .create_dict_iterator(num_epochs=1, output_numpy=True)) for rank in (0, 1)]
        for batches in zip(*shards):
            grads = [grad_fn(ms.Tensor(batch["image"]), ms.Tensor(batch["label"]))[1] for batch in batches]
            optimizer(tuple((g0 + g1) / 2 for g0, g1 in zip(*grads)))
            steps += 1
    assert steps == 2
    written = checkpoint_arrays(out / "stage2" / "final.ckpt")
    worst = max(float(np.max(np.abs(p.asnumpy() - written[p.name]))) for p in net.trainable_params())
    print(f"\nmsrun 2 workers vs one process averaging per-rank gradients: max |difference| {worst:.2e}")
    assert worst <= 1e-5
