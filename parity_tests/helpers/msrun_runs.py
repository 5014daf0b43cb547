"""Shared pieces of the multi-worker tests (parity_tests/cli/test_msrun_jobs.py): `erfnet` and the multi-host
script run in sessions of their own with a time limit (a hung msrun job fails the test instead of the suite), one
2-worker training job per session launched as two simulated hosts, which the training, evaluation and inference
tests share (every msrun job costs tens of seconds on 2 cores), and the one-process replay a data-parallel run is
held to."""
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import mindspore as ms
import numpy as np
import pytest

from convert import read_weights
from data.make_data import make_data
from erfnet.launch import free_port
from ms_erfnet.devices import Devices
from ms_erfnet.loss import WeightedCrossEntropy
from train.optim import make_adam, set_learning_rate, trained_parameters
from train.schedule import poly_learning_rate
from train.stage import StageRunner, stage_network

ROOT = Path(__file__).resolve().parents[2]
SMOKE = "smoke"
# Stage 2 (the encoder, two epochs: test_train_run replays them) from scratch, then stage 3 (the full network
# around stage 2's encoder) for one epoch, which leaves a full network to evaluate.
STAGES = "2-3"
OVERRIDES = ["stages.2.init=scratch", "stages.3.epochs=[1,1]"]
VAL_IMAGES = 7  # 2 and 3 workers do not divide them evenly


def run_erfnet(argv, timeout):
    """(exit code, stdout, stderr) of `erfnet <argv>` in a new session. After `timeout` seconds the session gets
    SIGINT (msrun then kills its workers), then SIGKILL, and the test fails."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    process = subprocess.Popen([sys.executable, "-m", "erfnet.cli", *map(str, argv)], cwd=ROOT, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
        pytest.fail(f"erfnet {' '.join(map(str, argv))} did not finish within {timeout} s")
    return process.returncode, out, err


def worker_log(out_dir, rank):
    return (Path(out_dir) / "msrun_logs" / f"worker_{rank}.log").read_text(errors="replace")


def run_two_hosts(argv, timeout, output_folder):
    """[(exit code, output)] of scripts/run_distribute_train.sh ARGV launched twice on this machine as the two
    hosts of one job (NODE_RANK 0 and 1, one CPU worker each, master on 127.0.0.1), their outputs kept in
    `output_folder`/host<rank>.txt. After `timeout` seconds both are killed with their workers and the test fails."""
    env = dict(os.environ, WORKERS_TOTAL="2", WORKERS_PER_NODE="1", MASTER_ADDR="127.0.0.1",
               MASTER_PORT=str(free_port()), DEVICE="CPU", PYTHON=sys.executable,
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    command = ["bash", str(ROOT / "scripts" / "run_distribute_train.sh"), *map(str, argv)]
    outputs = [Path(output_folder) / f"host{rank}.txt" for rank in (0, 1)]
    hosts = []
    try:
        for rank, output in enumerate(outputs):
            with open(output, "w") as sink:
                hosts.append(subprocess.Popen(command, cwd=ROOT, env=dict(env, NODE_RANK=str(rank)), stdout=sink,
                                              stderr=subprocess.STDOUT, start_new_session=True))
        codes = [host.wait(timeout=timeout) for host in hosts]
    except subprocess.TimeoutExpired:
        pytest.fail(f"run_distribute_train.sh {' '.join(map(str, argv))} did not finish within {timeout} s")
    finally:
        for host in hosts:
            end_process_tree(host)
    return [(code, output.read_text(errors="replace")) for code, output in zip(codes, outputs)]


def end_process_tree(process):
    """SIGKILL a process and everything below it (msrun's workers run in sessions of their own)."""
    import psutil  # a MindSpore dependency
    try:
        tree = psutil.Process(process.pid)
        for child in tree.children(recursive=True) + [tree]:
            child.kill()
    except psutil.NoSuchProcess:
        pass


@pytest.fixture(scope="session")
def two_worker_run(tmp_path_factory):
    """The smoke config's stages 2-3 trained as one job of 2 workers on two simulated hosts
    (scripts/run_distribute_train.sh, --verbose: the workers' debug lines) on 8 train and VAL_IMAGES val scenes
    of 64x32: SimpleNamespace(root, out, overrides). The same job on one host gives the same weights
    bit for bit (a sum of two gradients has one order). Treat it as read-only."""
    root = tmp_path_factory.mktemp("scenes_msrun")
    make_data(root, {"train": 8, "val": VAL_IMAGES}, 64, seed=1)
    out = tmp_path_factory.mktemp("dp") / "run"
    ended = run_two_hosts([SMOKE, root, out, "--stages", STAGES, "--quiet", "--verbose",
                           *[f"--set={override}" for override in OVERRIDES]], 900, out.parent)
    assert [code for code, _ in ended] == [0, 0], [output[-3000:] for _, output in ended]
    return SimpleNamespace(root=root, out=out, overrides=OVERRIDES)


def averaging_one_process(config, stage_number, root, shards, tmp_path):
    """The network after one process trains stage `stage_number` of `config` (from scratch), each step averaging
    the gradients of the `shards` ranks' batches; returns (net, steps)."""
    stage = config.stage(stage_number)
    net, _, _ = stage_network(config, stage, Devices())  # on the CPU: the lean convolution gradients training has
    optimizer = make_adam(trained_parameters(net, stage.network), config.lr0, config.weight_decay)
    loss_fn = WeightedCrossEntropy("encoder")
    grad_fn = ms.value_and_grad(lambda x, y: loss_fn(net(x, True), y), None, optimizer.parameters)
    steps = 0
    for epoch in range(stage.first_epoch, stage.last_epoch + 1):
        set_learning_rate(optimizer, poly_learning_rate(config.lr0, epoch, config.poly.epochs, config.poly.power))
        batches = [list(StageRunner(config, stage, root, tmp_path, Devices(rank, shards)).dataset(epoch)
                        .create_dict_iterator(num_epochs=1, output_numpy=True)) for rank in range(shards)]
        for step in zip(*batches):
            grads = [grad_fn(ms.Tensor(batch["image"]), ms.Tensor(batch["label"]))[1] for batch in step]
            optimizer(tuple(sum(rank_grads) / shards for rank_grads in zip(*grads)))
            steps += 1
    return net, steps


def largest_difference(net, checkpoint):
    """The largest |difference| between `net`'s trained parameters and those `checkpoint` holds."""
    written = read_weights(checkpoint).arrays
    return max(float(np.max(np.abs(p.asnumpy() - written[p.name]))) for p in net.trainable_params())


def worker_digests(log_dir, ranks, stage=1):
    """The weights digest each of `ranks` logged at the end of `stage`."""
    return [line.split()[-1] for rank in ranks
            for line in (Path(log_dir) / f"worker_{rank}.log").read_text(errors="replace").splitlines()
            if line.startswith(f"stage{stage} rank {rank} weights digest")]
