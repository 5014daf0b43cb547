"""Where a network runs: the device target, and data parallelism across the workers of an `msrun` job.

Each worker calls `mindspore.communication.init()` and sets DATA_PARALLEL with gradient mean. msrun sets
MS_ROLE in the environment of every process it starts: MS_WORKER for the workers and MS_SCHED for its
scheduler, which runs the same command (its `init()` serves the cluster) and must not launch msrun again
(erfnet/launch.py starts the job). Evaluation splits its items with `shard`, which, unlike MindSpore's
samplers, never pads a short shard (ms_erfnet/collective.py sums the workers' results).
"""
import os
from dataclasses import dataclass

from facts.errors import UserError

DEVICE_TARGETS = ("auto", "Ascend", "GPU", "CPU")
LAUNCHER_LOGS = "msrun_logs"  # the folder of an msrun job's logs, beside what the command writes
NODE_RANK_VARIABLE = "ERFNET_NODE_RANK"  # this host's node rank in a multi-host job, set by erfnet/launch.py


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

    def shard(self, items):
        """This worker's share of `items` (see `shard`)."""
        return shard(items, self.size, self.rank)


def shard(items, size, rank):
    """Shard `rank` of `size`: every size-th item from position `rank`. The shards partition the items exactly
    (lengths differ by at most one); MindSpore's samplers instead pad short shards by wrapping around, which
    would score an image twice."""
    return items[rank::size]


def in_msrun_job():
    return os.environ.get("MS_ROLE") in ("MS_WORKER", "MS_SCHED")


def idle_scheduler():
    """True in a scheduler that msrun started on a node other than node 0 (NODE_RANK_VARIABLE, which the launcher
    sets for `erfnet train --nodes N --node-rank R`). msrun starts a scheduler wherever MASTER_ADDR is a local address, so when
    several nodes share one machine (a cluster simulated for the tests) only node 0's may serve: the others end
    at once, which on separate servers never happens."""
    return os.environ.get("MS_ROLE") == "MS_SCHED" and os.environ.get(NODE_RANK_VARIABLE, "0") != "0"


def resolve_device(target, workers=1):
    """The device target "auto" means here (Ascend when present, else the CPU), after checking that MindSpore
    finds it, and `workers` of them when it is an accelerator (one card per local worker)."""
    import mindspore as ms
    if target not in DEVICE_TARGETS:
        raise UserError(f"--device {target!r}: choose one of {', '.join(DEVICE_TARGETS)}")
    if target == "auto":
        target = "Ascend" if ms.hal.is_available("Ascend") else "CPU"
    elif target != "CPU" and not ms.hal.is_available(target):
        raise UserError(f"--device {target}: MindSpore finds no {target} device on this machine")
    if target != "CPU" and workers > 1:
        count = getattr(ms.device_context, target.lower()).device_count()
        if count < workers:
            raise UserError(f"--devices {workers}: this machine has {count} {target} device(s)")
    return target


def select_device(target):
    """Set MindSpore's device target (see `resolve_device`); returns it. A process that already runs on that
    target (the demo calls `erfnet eval` after training, in one process) keeps it: MindSpore refuses to set a
    device once its runtime is up."""
    import mindspore as ms
    target = resolve_device(target)
    if ms.get_context("device_target") != target:
        ms.set_device(target)
    return target


def init_data_parallel():
    """Join the msrun job: returns this worker's Devices."""
    import mindspore as ms
    from mindspore.communication import get_group_size, get_rank, init
    init()
    ms.set_auto_parallel_context(parallel_mode=ms.ParallelMode.DATA_PARALLEL, gradients_mean=True)
    return Devices(rank=get_rank(), size=get_group_size())
