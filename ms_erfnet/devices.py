"""Where a network runs: the device target, and data parallelism across the workers of an `msrun` job.

Each worker calls `mindspore.communication.init()` and sets DATA_PARALLEL with gradient mean. msrun sets
MS_ROLE in the environment of every process it starts: MS_WORKER for the workers and MS_SCHED for its
scheduler, which runs the same command (its `init()` serves the cluster) and must not launch msrun again
(erfnet/launch.py starts the job).
"""
import os
from dataclasses import dataclass

from facts.errors import UserError

DEVICE_TARGETS = ("auto", "Ascend", "GPU", "CPU")


@dataclass(frozen=True)
class Devices:
    rank: int = 0
    size: int = 1

    @property
    def data_parallel(self):
        return self.size > 1

    @property
    def is_writer(self):
        return self.rank == 0


def in_msrun_job():
    return os.environ.get("MS_ROLE") in ("MS_WORKER", "MS_SCHED")


def idle_scheduler():
    """True in a scheduler that msrun started on a node other than node 0 (ERFNET_NODE_RANK, exported by
    scripts/run_distribute_train.sh). msrun starts a scheduler wherever MASTER_ADDR is a local address, so when
    several nodes share one machine (a cluster simulated for the tests) only node 0's may serve: the others end
    at once, which on separate servers never happens."""
    return os.environ.get("MS_ROLE") == "MS_SCHED" and os.environ.get("ERFNET_NODE_RANK", "0") != "0"


def select_device(target):
    """Set MindSpore's device target; "auto" picks Ascend when present, else the CPU."""
    import mindspore as ms
    if target not in DEVICE_TARGETS:
        raise UserError(f"--device {target!r}: choose one of {', '.join(DEVICE_TARGETS)}")
    if target == "auto":
        target = "Ascend" if ms.hal.is_available("Ascend") else "CPU"
    elif target != "CPU" and not ms.hal.is_available(target):
        raise UserError(f"--device {target}: MindSpore finds no {target} device on this machine")
    ms.set_device(target)
    return target


def init_data_parallel():
    """Join the msrun job: returns this worker's Devices."""
    import mindspore as ms
    from mindspore.communication import get_group_size, get_rank, init
    init()
    ms.set_auto_parallel_context(parallel_mode=ms.ParallelMode.DATA_PARALLEL, gradients_mean=True)
    return Devices(rank=get_rank(), size=get_group_size())
