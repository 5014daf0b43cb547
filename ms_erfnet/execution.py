"""The MindSpore execution mode ERFNet runs in: graph mode, for training and for inference, the faster mode in
every measured case but one (bench/speed.py; the figures are in docs/performance.md). The train step is compiled
once per batch shape (train/step.py)."""
import ctypes
import gc

import mindspore as ms


def use_graph_mode():
    ms.set_context(mode=ms.GRAPH_MODE)


def release_free_heap():
    """Give the C heap's free pages back to the system (glibc's malloc_trim; elsewhere nothing happens).

    Compiling ERFNet's train step leaves 70-170 MB of freed compiler memory resident in glibc's heap
    (measured at 256x512); returning it between compiling and running the step lowers the step's peak by
    as much. Returns True when trimmed."""
    try:
        return bool(ctypes.CDLL("libc.so.6").malloc_trim(0))
    except (OSError, AttributeError):
        return False


def free_finished_graphs():
    """Collect the Python cycles that keep a finished network's cells and compiled graphs alive. Python's own
    collector rarely reaches them (it counts Python objects, not MindSpore's memory behind them), and while they
    live every later compile in the process is slower: the second stage of one `erfnet train` compiled in 27 s
    against 12 s in a process of its own (smoke config, 2-core CPU, MindSpore 2.10)."""
    gc.collect()
