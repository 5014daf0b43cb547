"""The kind of data workers a pipeline runs: threads of the training process, or worker processes (MindSpore's
map with python_multiprocessing=True, rows returned through shared memory).

`auto` picks processes when the pipeline has at least PROCESS_CORES cores of its own and two or more workers,
threads otherwise. The rule follows the model of docs/data-throughput.md (bench/gil_ceiling.py): threads run
the native parts of a sample in parallel but its Python parts one at a time under the GIL, which caps their
images/s whatever the cores; processes have no such cap but cost more CPU per image (starting, copying rows
through shared memory). Below PROCESS_CORES cores the extra CPU costs more than the GIL does.
"""
import os

WORKER_KINDS = ("auto", "threads", "processes")
PROCESS_CORES = 4


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
