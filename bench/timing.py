"""Best-of-N wall-clock timing, shared by the benchmarks in this folder."""
import time


def best_seconds(function, repeats, warmups=1):
    """The fastest of `repeats` timed calls of `function`, after `warmups` untimed ones."""
    for _ in range(warmups):
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)
