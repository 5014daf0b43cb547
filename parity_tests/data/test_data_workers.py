"""Worker kinds: images decode with MindSpore's pixels through a decoder that releases the GIL; `auto` picks by
the cores; threads and processes give the same batches for a seed, on every
shard and with any number of workers; a bad file is named by process workers too; a trainer stopped by Ctrl-C
or killed leaves no worker process behind; the trainer measures its time waiting for data."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
from PIL import Image

from data.cityscapes import read_image
from data.make_data import make_data
from data.pipeline import dataset_rows, make_dataset
from data.workers import PROCESS_CORES, pipeline_cores, uses_processes
from facts.errors import UserError
from train.stage import TimedRows

HEIGHT = 64
REPO = Path(__file__).resolve().parents[2]
JOB_TIMEOUT = 300  # seconds; Python handles Ctrl-C only after MindSpore's graph compilation returns


def test_auto_picks_processes_only_with_enough_cores_and_workers():
    assert not uses_processes("auto", 2, cores=PROCESS_CORES - 1)
    assert uses_processes("auto", 2, cores=PROCESS_CORES)
    assert not uses_processes("auto", 1, cores=48)
    assert uses_processes("processes", 1, cores=1) and not uses_processes("threads", 8, cores=48)
    assert uses_processes("auto", 2) == (len(os.sched_getaffinity(0)) >= PROCESS_CORES)
    assert pipeline_cores(len(os.sched_getaffinity(0))) == 1 and pipeline_cores(10 ** 6) == 1
    with pytest.raises(ValueError, match="choose one of auto, threads, processes"):
        uses_processes("fibres", 2)


@pytest.mark.parametrize("mode, suffix", [("RGB", "png"), ("L", "png"), ("RGBA", "png"), ("P", "png"),
                                          ("I;16", "png"), ("RGB", "jpg")])
def test_images_decode_to_mindspores_pixels(tmp_path, mode, suffix):
    import mindspore.dataset.vision as vision
    values = np.random.default_rng(3).integers(0, 256, (64, 128, 3), dtype=np.uint8)
    picture = Image.fromarray(values[..., 0].astype(np.uint16) * 257) if mode == "I;16" \
        else Image.fromarray(values).convert(mode)
    path = tmp_path / f"picture.{suffix}"
    picture.save(path)
    image = read_image(path)
    assert image.dtype == np.uint8 and image.shape == (64, 128, 3)
    np.testing.assert_array_equal(image, vision.Decode()(np.fromfile(path, dtype=np.uint8)))


def batches(root, processes, workers, recipe, shard_id):
    dataset = make_dataset(root, "train", recipe=recipe, height=HEIGHT, batch_size=2, shuffle=True, seed=5,
                           num_shards=2, shard_id=shard_id, num_workers=workers, with_meta=True,
                           crop_ratio=(1.0, 1.3) if recipe == "zoo" else None, python_multiprocessing=processes)
    return list(dataset_rows(dataset))


def test_more_workers_than_cpus_run_as_many_as_there_are(data_root):
    many = batches(data_root, False, os.cpu_count() + 3, "zoo", 0)
    one = batches(data_root, False, 1, "zoo", 0)
    for a, b in zip(many, one, strict=True):
        np.testing.assert_array_equal(a["image"], b["image"])


@pytest.mark.parametrize("recipe, shard_id", [("zoo", 0), ("pytorch", 1)])
def test_threads_and_processes_give_the_same_batches(data_root, recipe, shard_id):
    threads = batches(data_root, False, 2, recipe, shard_id)
    processes = batches(data_root, True, 1, recipe, shard_id)
    assert len(threads) == len(processes) == 3
    for a, b in zip(threads, processes):
        assert a.keys() == b.keys()
        for column in a:
            np.testing.assert_array_equal(a[column], b[column])
    other_shard = batches(data_root, True, 2, recipe, 1 - shard_id)
    indices = [int(i) for rows in (threads, other_shard) for batch in rows for i in batch["index"]]
    assert sorted(indices) == list(range(12))


def test_process_workers_name_a_bad_file_or_skip_it(copy_root):
    image = sorted((copy_root / "leftImg8bit" / "train").glob("*/*.png"))[3]
    image.write_bytes(image.read_bytes()[:3000])
    options = dict(recipe="zoo", height=HEIGHT, batch_size=2, num_workers=2, python_multiprocessing=True)
    with pytest.raises(UserError, match=image.name):
        list(dataset_rows(make_dataset(copy_root, "train", **options)))
    kept = list(dataset_rows(make_dataset(copy_root, "train", skip_bad=True, **options)))
    assert sum(len(batch["image"]) for batch in kept) == 11


def test_timed_rows_count_the_wait_for_rows_not_the_work_between():
    def slow_rows():
        for row in range(3):
            time.sleep(0.05)
            yield row

    rows = TimedRows(slow_rows())
    for _ in rows:
        time.sleep(0.1)
    assert 0.15 <= rows.waited < 0.25


FORKING_PARENT = """
import multiprocessing, sys, time
from data.workers import end_children_with_this_process
if sys.argv[1] == "ends children":
    end_children_with_this_process()
child = multiprocessing.get_context("fork").Process(target=time.sleep, args=(600,))
child.start()
print(child.pid, flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("mode", ["ends children", "as before"])
def test_a_killed_process_takes_its_forked_children_with_it_once_asked(mode):
    parent = subprocess.Popen([sys.executable, "-c", FORKING_PARENT, mode], cwd=REPO, stdout=subprocess.PIPE,
                              text=True)
    child = psutil.Process(int(parent.stdout.readline()))
    try:
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 10
        while running(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert running(child) == (mode == "as before")  # without the call, the child outlives its parent
    finally:
        if running(child):
            child.kill()


def forked_children(pid):
    """The processes forked from `pid` (MindSpore's workers and its clean process), told from other child
    processes by running the same command line."""
    try:
        parent = psutil.Process(pid)
        command = parent.cmdline()
        children = parent.children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    forked = []
    for child in children:
        try:
            if child.cmdline() == command:
                forked.append(child)
        except psutil.NoSuchProcess:
            pass
    return forked


def forked_from(command):
    """The running processes forked from a trainer started with `command` (its folders make it unique), found
    by their command line: a worker whose trainer ended has another parent."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if process.info["cmdline"] == command and running(process):
            found.append(process.pid)
    return found


def running(process):
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT])
def test_a_stopped_trainer_leaves_no_worker_process(tmp_path, stop):
    root = tmp_path / "scenes"
    make_data(root, {"train": 64, "val": 2}, 128, seed=2)
    command = [sys.executable, "-m", "erfnet.cli", "train", "--config", "smoke", "--data", str(root),
               "--out", str(tmp_path / "run"), "--stages", "1", "--quiet", "--worker-kind", "processes",
               "--set", "workers=2", "--set", "batch_size=1"]
    trainer = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        workers = []
        while not workers and time.monotonic() < deadline and trainer.poll() is None:
            time.sleep(0.05)
            workers = forked_children(trainer.pid)  # killed at once: before MindSpore's clean process starts
        assert workers, f"no worker processes started: {trainer.stderr.read() if trainer.poll() else ''}"
        if stop == signal.SIGINT:  # Ctrl-C: the terminal signals the whole foreground process group
            os.killpg(trainer.pid, stop)
        else:  # a kill of the trainer alone, as the out-of-memory killer does
            trainer.send_signal(stop)
        trainer.wait(timeout=JOB_TIMEOUT)
        deadline = time.monotonic() + 20
        while forked_from(command) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert forked_from(command) == []
    finally:
        if trainer.poll() is None:
            trainer.kill()
            trainer.wait()
