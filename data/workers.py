"""The kind of data workers a pipeline runs: threads of the training process, or worker processes (MindSpore's
map with python_multiprocessing=True, rows returned through shared memory).

`auto` picks processes when the pipeline has at least PROCESS_CORES cores of its own and two or more workers,
threads otherwise. The rule follows the model of docs/data-throughput.md (bench/gil_ceiling.py): threads run
the native parts of a sample in parallel but hold the GIL for the rest, which caps their images/s whatever
the cores; processes have no such cap but cost more CPU per image (starting, copying rows through shared
memory), so they win from the core count where the threads' cap binds. On the quiet 2-core machine the model
put that at 6 cores per card for `zoo` (threads capped at 53 images/s, processes at 77 with 8 cores), and
threads measured 1.8x processes on the 2 cores themselves; PROCESS_CORES is 8, past the crossover with room
for the spread between runs: hosts of 2-7 cores per card keep threads, Ascend hosts (24 or more cores per
card) get processes.
"""
import ctypes
import os
import signal
import sys
import threading

WORKER_KINDS = ("auto", "threads", "processes")
PROCESS_CORES = 8


def pipeline_cores(pipelines_on_host=1):
    """The cores this process may run on, shared evenly by the data pipelines of the host's ranks."""
    return max(1, len(os.sched_getaffinity(0)) // pipelines_on_host)


def uses_processes(worker_kind, workers, cores=None):
    """True when the pipeline should run its `workers` as processes; `cores`: the pipeline's share of the
    host (pipeline_cores() when None)."""
    if worker_kind not in WORKER_KINDS:
        raise ValueError(f"worker kind {worker_kind!r}: choose one of {', '.join(WORKER_KINDS)}")
    if worker_kind != "auto":
        return worker_kind == "processes"
    return workers >= 2 and (pipeline_cores() if cores is None else cores) >= PROCESS_CORES


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_forker = None  # this process's pid once end_children_with_this_process() has run
_forked_from_main_thread = False


def end_children_with_this_process():
    """From now on, every process forked from this process's main thread gets SIGTERM when this process ends
    (Linux's PR_SET_PDEATHSIG; elsewhere nothing changes). MindSpore starts the clean process that ends its
    workers when the trainer dies only after the workers, and a worker's own check of its parent looks at the
    parent it was handed to, so a trainer killed in between (2 of 4 kills timed to an epoch's start, MindSpore
    2.10) leaves its workers waiting for rows forever. SIGTERM, not SIGKILL: MindSpore's worker handler releases
    the shared memory on it. Forks from other threads are left alone: the signal follows the forking thread,
    and a thread that ends would take its children with it."""
    global _forker
    if _forker is not None or not sys.platform.startswith("linux"):
        return
    _forker = os.getpid()
    os.register_at_fork(before=_note_forking_thread, after_in_child=_die_with_forker)


def _note_forking_thread():
    global _forked_from_main_thread
    _forked_from_main_thread = threading.current_thread() is threading.main_thread() and os.getpid() == _forker


def _die_with_forker():
    if not _forked_from_main_thread:
        return
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != _forker:  # the parent ended before the signal was asked for
        os.kill(os.getpid(), signal.SIGTERM)
