"""Shared pieces of the multi-worker tests: `erfnet` run in its own session with a time limit (a hung msrun
job fails the test instead of the suite), and one 2-worker training run per session, which the training and
evaluation tests share (every msrun job costs tens of seconds on 2 cores), and the one-process replay a
data-parallel run is held to."""
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


@pytest.fixture(scope="session")
def two_worker_run(tmp_path_factory):
    """The smoke config's stages 2-3 trained by 2 msrun workers (--verbose: the workers' debug lines) on 8 train
    and VAL_IMAGES val scenes of 64x32: SimpleNamespace(root, out, overrides). Treat it as read-only."""
    root = tmp_path_factory.mktemp("scenes_msrun")
    make_data(root, {"train": 8, "val": VAL_IMAGES}, 64, seed=1)
    out = tmp_path_factory.mktemp("dp") / "run"
    code, stdout, stderr = run_erfnet(
        ["train", "--config", SMOKE, "--data", root, "--out", out, "--stages", STAGES, "--devices", "2", "--quiet",
         "--verbose", *[f"--set={override}" for override in OVERRIDES]], timeout=900)
    assert code == 0, stdout[-3000:] + stderr[-3000:]
    return SimpleNamespace(root=root, out=out, overrides=OVERRIDES)


def averaging_one_process(config, stage_number, root, shards, tmp_path, last_step=None):
    """The network after one process trains stage `stage_number` of `config` (from scratch), each step averaging
    the gradients of the `shards` ranks' batches; returns (net, steps). A dict `last_step` receives the last
    step's learning rate and, per trained parameter name, (its value before the step, its shards' gradients)."""
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
            if last_step is not None:
                last_step.update(lr=float(optimizer.learning_rate.asnumpy()), parameters={
                    p.name: (p.asnumpy().copy(), [g.asnumpy() for g in rank_grads])
                    for p, rank_grads in zip(optimizer.parameters, zip(*grads))})
            optimizer(tuple(sum(rank_grads) / shards for rank_grads in zip(*grads)))
            steps += 1
    return net, steps


def one_step_envelope(last_step, weight_decay, eps=1e-8):
    """{name: per-element bound} on how far one Adam step from the same weights may land when the shards'
    gradients are averaged in another float32 summation order (all_reduce's against sum(...) / shards).

    The two averages of n terms differ by at most 2 (n - 1) u sum|g_i| / n (u = 2^-24: each order's rounding,
    bounded as in Higham's recursive summation). Adam's first step moves a weight by lr g / (|g| + eps), g the
    average plus the L2 term (torch's formula, train/optim.py), whose slope in g is lr eps / (|g| + eps)^2:
    where |g| is near eps the step amplifies the gradient's rounding by lr / eps (2e5 at lr 2e-3), so a few
    float32 ulps of a gradient sum become 1e-5 of a weight. No bar for the whole tensor follows from float32;
    this bound per element does, plus 8 u (|w| + lr) for the rounding of the update itself, and never more than
    the 2 lr a step can differ by at all."""
    lr, u = last_step["lr"], 2.0 ** -24
    bounds = {}
    for name, (weight, gradients) in last_step["parameters"].items():
        weight, gradients = weight.astype(np.float64), [g.astype(np.float64) for g in gradients]
        n = len(gradients)
        spread = 2 * (n - 1) * u * sum(np.abs(g) for g in gradients) / n
        g = sum(gradients) / n + weight_decay * weight
        slope = lr * eps / (np.maximum(np.abs(g) - spread, 0) + eps) ** 2
        bounds[name] = np.minimum(slope * spread, 2 * lr) + 8 * u * (np.abs(weight) + lr)
    return bounds


def largest_difference(net, checkpoint):
    """The largest |difference| between `net`'s trained parameters and those `checkpoint` holds."""
    written = read_weights(checkpoint).arrays
    return max(float(np.max(np.abs(p.asnumpy() - written[p.name]))) for p in net.trainable_params())
    print(f"\nmsrun 2 workers vs one process averaging per-rank gradients: max |difference| {worst:.2e}")
    assert worst <= 1e-5


def worker_digests(log_dir, ranks, stage=1):
    """The weights digest each of `ranks` logged at the end of `stage`."""
    return [line.split()[-1] for rank in ranks
            for line in (Path(log_dir) / f"worker_{rank}.log").read_text(errors="replace").splitlines()
            if line.startswith(f"stage{stage} rank {rank} weights digest")]
