"""Wall-clock timing of repeated calls, shared by the benchmarks in this folder."""
import statistics
import time


def call_seconds(function, repeats, warmups=1):
    """The seconds of `repeats` timed calls of `function`, after `warmups` untimed ones."""
    for _ in range(warmups):
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def best_seconds(function, repeats, warmups=1):
    """The fastest of `repeats` timed calls of `function`, after `warmups` untimed ones."""
    return min(call_seconds(function, repeats, warmups))


def median_seconds(function, repeats, warmups=1):
    """The median of `repeats` timed calls of `function`, after `warmups` untimed ones."""
    return statistics.median(call_seconds(function, repeats, warmups))
