"""One pipeline's throughput and CPU cost, shared by bench/data_pipeline.py and bench/gil_ceiling.py."""
import time

import psutil

from data.pipeline import make_dataset
from data.workers import uses_processes

HEIGHT = 512


def _cpu_seconds(times):
    return times.user + times.system


def measure_pipeline(root, recipe, workers, batch, cache, epochs, worker_kind):
    """Consume `epochs` epochs of our training pipeline; returns images/s (start-up included), CPU seconds per
    image over this process and its worker processes, and this process's own share."""
    me = psutil.Process()
    before = _cpu_seconds(me.cpu_times())
    start = time.perf_counter()
    dataset = make_dataset(root, "train", recipe=recipe, height=HEIGHT, batch_size=batch, shuffle=True, seed=0,
                           num_workers=workers, drop_remainder=True, crop_ratio=(1.0, 1.3) if recipe == "zoo" else None,
                           cache=True if cache else None,
                           python_multiprocessing=uses_processes(worker_kind, workers))
    count, children = 0, {}
    for images, _ in dataset.create_tuple_iterator(num_epochs=epochs, output_numpy=True):
        count += images.shape[0]
        for child in me.children(recursive=True):
            try:
                children[child.pid] = _cpu_seconds(child.cpu_times())
            except psutil.Error:
                pass
    seconds = time.perf_counter() - start
    main = _cpu_seconds(me.cpu_times()) - before
    return {"images_per_s": count / seconds, "cpu_s_per_image": (main + sum(children.values())) / count,
            "main_cpu_s_per_image": main / count, "worker_processes": len(children)}


_RATE_IN_TREE = """
import sys, time, psutil
sys.path.insert(0, sys.argv[1])
from data.pipeline import make_dataset
root, recipe, workers, processes = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] == "1"
me = psutil.Process()
before = sum(me.cpu_times()[:2])
start = time.perf_counter()
dataset = make_dataset(root, "train", recipe=recipe, height=512, batch_size=4, shuffle=True, seed=0,
                       num_workers=workers, drop_remainder=True, crop_ratio=(1.0, 1.3) if recipe == "zoo" else None,
                       python_multiprocessing=processes)
count, children = 0, {}
for images, _ in dataset.create_tuple_iterator(num_epochs=2, output_numpy=True):
    count += images.shape[0]
    for child in me.children(recursive=True):
        try:
            children[child.pid] = sum(child.cpu_times()[:2])
        except psutil.Error:
            pass
seconds = time.perf_counter() - start
print(count / seconds, (sum(me.cpu_times()[:2]) - before + sum(children.values())) / count)
"""


def rate_in_tree(tree, root, recipe, workers, processes):
    """(images/s, CPU seconds per image over every process) of 2 epochs of the training pipeline of the source
    tree `tree` (another version of this project), in a fresh process, so two versions are measured alike."""
    import subprocess
    import sys
    result = subprocess.run([sys.executable, "-c", _RATE_IN_TREE, str(tree), str(root), recipe, str(workers),
                             "1" if processes else "0"], capture_output=True, text=True, check=True)
    rate, cpu = result.stdout.split()[-2:]
    return float(rate), float(cpu)
