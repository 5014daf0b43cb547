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
