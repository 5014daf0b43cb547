"""The kind of data workers a pipeline runs: threads of the training process, or worker processes (MindSpore's
map with python_multiprocessing=True, rows returned through shared memory).

`auto` picks processes when the pipeline has at least PROCESS_CORES cores of its own and two or more workers,
threads otherwise. The rule follows the model of docs/data-throughput.md (bench/gil_ceiling.py): threads run
the native parts of a sample in parallel but hold the GIL for the rest, which caps their images/s whatever
the cores; processes have no such cap but cost more CPU per image (starting, copying rows through shared
memory), so they win from the core count where the threads' cap binds. The model put that at 2-4 cores per
card in the runs measured; PROCESS_CORES is set higher, at 8, because those runs predate or could not resolve
the gain threads made when the image decode moved to Pillow: hosts of 2-7 cores per card keep the threads
that measured faster on them, Ascend hosts (24 or more cores per card) get processes.
"""
import os

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
