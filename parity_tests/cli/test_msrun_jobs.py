"""Jobs of several msrun workers on this CPU, all around one 2-worker training job (helpers.msrun_runs
.two_worker_run: the smoke config's stages 2-3, launched by scripts/run_distribute_train.sh as two simulated hosts),
kept in one module so that one pytest worker runs every user of that job: the hosts train one job equal to one
process averaging their gradients; validation inside it is `erfnet eval` of its checkpoint; `erfnet eval` and
`erfnet infer` on 2 workers equal one process; a killed worker ends the job at once with one line naming its
rank, and --resume ends bit-identical to the uninterrupted job."""
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from convert import read_weights
from convert.ms_io import load_checkpoint_file
from convert.names import PARTS
from convert.network import build_network, load_full_network
from erfnet.cli import main
from eval.evaluate import evaluate
from facts.digest import arrays_digest
from helpers.console_lines import unwanted
from helpers.data_references import png
from helpers.msrun_runs import (VAL_IMAGES, averaging_one_process, largest_difference, run_erfnet,
                                worker_digests, worker_log)
from ms_erfnet.execution import use_graph_mode
from train.config import read_config
from train.validate import scored_network, validate

pytestmark = pytest.mark.slow  # every test here runs msrun jobs

HEIGHT = 32
TIMEOUT = 400
FAULTS = Path(__file__).resolve().parents[1] / "helpers" / "fault_injection"
REPO = Path(__file__).resolve().parents[2]
KILL_DELAY = 0.2  # seconds after the checkpoint appears: inside the next epoch's one step per rank


def faults(**kills):
    """Environment variables that put fault_injection/ on a process's path with the given ERFNET_KILL_* faults."""
    path = os.pathsep.join([str(FAULTS), str(REPO), os.environ.get("PYTHONPATH", "")])
    return dict(PYTHONPATH=path, **{f"ERFNET_KILL_{key.upper()}": str(value) for key, value in kills.items()})


def validation_lines(out, stage, epoch):
    """{rank: (state validated with, the rank's own state)} from the workers' debug lines."""
    found = {}
    for rank in (0, 1):
        for line in worker_log(out, rank).splitlines():
            prefix = f"debug: {stage} epoch {epoch} rank {rank} validates with network state "
            if line.startswith(prefix):
                used, _, own = line[len(prefix):].partition(" (its own: ")
                found[rank] = (used, own.rstrip(")"))
    return found


def test_validation_on_two_workers_is_erfnet_eval_of_the_checkpoint(two_worker_run, tmp_path, capsys):
    run = two_worker_run
    record = json.loads((run.out / "stage3" / "metrics.jsonl").read_text().splitlines()[0])
    checkpoint = tmp_path / "epoch_001.ckpt"
    shutil.copy(run.out / "stage3" / "checkpoints" / "epoch_001.ckpt", checkpoint)
    lines = validation_lines(run.out, "stage3", 1)
    assert lines[0][0] == lines[1][0] == arrays_digest(read_weights(checkpoint).arrays), \
        "both ranks validate with the checkpoint's network state"
    assert lines[1][1] != lines[0][0], "rank 1's own BatchNorm statistics differ: without rank 0's, it would not"
    assert main(["eval", "--weights", str(checkpoint), "--data", str(run.root), "--height", str(HEIGHT),
                 "--batch-size", "4"]) == 0
    alone = json.loads((tmp_path / "epoch_001.ckpt.metrics.json").read_text())
    print(f"\nstage3 val mIoU on 2 workers {record['val_miou']!r}, erfnet eval alone {alone['mean_iou']!r}")
    assert record["val_miou"] == alone["mean_iou"] and alone["images"] == VAL_IMAGES
    assert record["val_loss"] == pytest.approx(alone["mean_loss"], rel=1e-6)
    encoder_record = json.loads((run.out / "stage2" / "metrics.jsonl").read_text().splitlines()[1])
    use_graph_mode()  # as training validates
    weights = read_weights(run.out / "stage2" / "checkpoints" / "epoch_004.ckpt")
    encoder = build_network(20, weights, fresh_parts=PARTS)[0]
    assert encoder_record["val_miou"] == validate(scored_network(encoder, "encoder"), run.root, HEIGHT, 4, 1,
                                                quiet=True)[0]


def test_eval_on_two_workers_is_exactly_the_single_process_result(two_worker_run, tmp_path):
    """2 workers for 7 images (uneven shards), the full protocol; each protocol's shard tallies on 2 and 3 shards
    are tested in eval/test_eval_devices.py without msrun."""
    workers, protocol = 2, "full"
    weights = tmp_path / "final.ckpt"
    shutil.copy(two_worker_run.out / "stage3" / "final.ckpt", weights)
    code, stdout, stderr = run_erfnet(["eval", "--weights", weights, "--data", two_worker_run.root, "--height", HEIGHT,
                                       "--protocol", protocol, "--batch-size", "2", "--devices", workers],
                                      timeout=TIMEOUT)
    assert code == 0, stdout[-3000:] + stderr[-3000:]
    assert unwanted(stdout + stderr) == [], "rank 0's lines, none of MindSpore's or msrun's"
    assert "Start worker process" in (tmp_path / "msrun_logs" / "msrun.log").read_text()
    assert f"{workers} workers, mindspore, chosen by --runtime auto: --devices {workers})" in worker_log(tmp_path, 0)
    assert "mIoU" in worker_log(tmp_path, 0)
    record = json.loads((tmp_path / "final.ckpt.metrics.json").read_text())
    use_graph_mode()  # as the workers run
    alone = evaluate(load_full_network(weights)[0], two_worker_run.root, "val", HEIGHT, protocol, 2, quiet=True)
    np.testing.assert_array_equal(np.array(record["confusion"]), alone.confusion)
    assert record["images"] == alone.images == VAL_IMAGES and record["mean_iou"] == alone.mean_iou
    assert record["mean_loss"] == pytest.approx(alone.mean_loss, rel=1e-6)
    last_rank = tmp_path / "msrun_logs" / f"worker_{workers - 1}.log"
    assert last_rank.is_file() and not worker_log(tmp_path, 1).count("mIoU"), "rank 0 alone reports"


def test_infer_on_two_workers_writes_every_output_once(two_worker_run, weight_files, tmp_path):
    photos = tmp_path / "photos"
    shutil.copytree(two_worker_run.root / "leftImg8bit" / "val", photos)
    broken = photos / "frankfurt" / "zz_broken.png"  # the last of 8 images: rank 1's
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not a picture")
    out, alone = tmp_path / "out", tmp_path / "alone"
    code, stdout, stderr = run_erfnet(["infer", "--weights", weight_files["torch"], "--input", photos, "--out", out,
                                       "--height", HEIGHT, "--devices", "2"], timeout=TIMEOUT)
    assert code == 1, stdout[-3000:] + stderr[-3000:]
    assert "rank 0: wrote 4 of its 4 images" in worker_log(out, 0)
    assert "rank 1: wrote 3 of its 4 images" in worker_log(out, 1)
    assert f"wrote color, overlay, trainids, labelids for {VAL_IMAGES} of 8 images" in worker_log(out, 0)
    assert "1 image(s) could not be read" in worker_log(out, 0) and str(broken) in worker_log(out, 0)
    assert main(["infer", "--weights", str(weight_files["torch"]), "--input", str(photos), "--out", str(alone),
                 "--height", str(HEIGHT)]) == 1
    written = sorted(path.relative_to(alone) for path in alone.rglob("*.png"))
    assert len(written) == 4 * VAL_IMAGES
    assert sorted(path.relative_to(out) for path in out.rglob("*.png")) == written
    for relative in written:
        np.testing.assert_array_equal(png(out / relative), png(alone / relative), err_msg=str(relative))


def test_two_hosts_train_one_job_equal_to_one_process_averaging_their_gradients(two_worker_run, tmp_path):
    """The two hosts' ranks end each stage with one digest, and stage 2's weights are those of one process
    averaging the two ranks' gradients (float32: within 1e-5)."""
    out, root = two_worker_run.out, two_worker_run.root
    for stage in (2, 3):
        digests = worker_digests(out / "msrun_logs", (0, 1), stage=stage)
        assert len(digests) == 2 and digests[0] == digests[1], f"stage {stage}: both hosts hold the same weights"
    net, steps = averaging_one_process(read_config("smoke", two_worker_run.overrides), 2, root, 2, tmp_path)
    assert steps == 2
    worst = largest_difference(net, out / "stage2" / "final.ckpt")
    print(f"\n2 hosts of one msrun worker vs one process averaging their gradients: max |difference| {worst:.2e}")
    assert worst <= 1e-5


def test_a_killed_msrun_worker_ends_the_job_and_resume_ends_bit_identical(two_worker_run, tmp_path, capsys,
                                                                         monkeypatch):
    """Stage 2 of the same job on one host of 2 workers: rank 1 is SIGKILLed just after the epoch-3 checkpoint
    appears, at the start of epoch 4 (rank 0 waits for it in the gradient all-reduce): the job ends by itself
    within seconds, exit 1, one line naming rank 1; the checkpoint is intact; --resume ends the stage with the
    uninterrupted job's weights, bit for bit (launched on one host here, on two there)."""
    out = tmp_path / "run"
    checkpoint = out / "stage2" / "checkpoints" / "epoch_003.ckpt"
    for key, value in faults(rank=1, after=checkpoint, delay=KILL_DELAY).items():
        monkeypatch.setenv(key, value)
    capsys.readouterr()
    assert train_stage2_on_msrun(two_worker_run, out) == 1
    ended = time.time()
    _, stderr = capsys.readouterr()
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "rank 1 was killed by SIGKILL" in lines[0], stderr
    death = checkpoint.stat().st_mtime + KILL_DELAY
    print(f"\njob ended {ended - death:.1f} s after rank 1 died")
    assert ended - death < 30, "the job ends within seconds, not after MindSpore's heartbeat timeout"
    load_checkpoint_file(checkpoint)  # CRC verified: intact
    assert not (out / "stage2" / "checkpoints" / "epoch_004.ckpt").exists()
    assert not (out / "stage2" / "final.ckpt").exists()
    for key in ("ERFNET_KILL_RANK", "ERFNET_KILL_AFTER"):
        monkeypatch.delenv(key)
    assert train_stage2_on_msrun(two_worker_run, out, "--resume") == 0
    assert worker_digests(out / "msrun_logs", (0, 1), stage=2) == \
        worker_digests(two_worker_run.out / "msrun_logs", (0, 1), stage=2)
    resumed, whole = (read_weights(run / "stage2" / "final.ckpt").arrays for run in (out, two_worker_run.out))
    for name, array in whole.items():
        np.testing.assert_array_equal(resumed[name], array, err_msg=name)


def train_stage2_on_msrun(job, out, *extra):
    """`erfnet train` of two_worker_run's stage 2 (its first: the stage does not depend on what follows it) on one
    host of 2 msrun workers."""
    return main(["train", "--config", "smoke", "--data", str(job.root), "--out", str(out), "--stages", "2",
                 "--devices", "2", "--quiet", *[f"--set={override}" for override in job.overrides], *extra])
