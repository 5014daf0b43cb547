"""The GIL ceiling of thread workers and the overhead of process workers, per recipe, on generated 2048x1024
PNGs turned into 1024x512 training rows; and from them a projection of images/s per card against the cores
per card (8, 16, 24, 48) for each worker kind.

What it measures, and how:
1. Each stage of one sample, and the whole sample as the pipeline's map runs it (data.pipeline's _Augment),
   timed in one thread while a pure-Python spinner thread counts iterations. The spinner advances only while
   it holds the GIL: beside native work that releases the GIL it competes only for a core, beside Python code
   it shares the GIL at every switch interval, beside C code that keeps the GIL it stops. Its speed beside a
   stage, against the two calibrations measured in the same rounds (sha256 of 32 MB, a pure-Python loop;
   --repeats rounds, medians), gives the stage's time keeping the GIL in C calls. Reading speeds rather than
   times keeps the probe usable on a loaded machine, where a thread that waits for the GIL leaves its core to
   others; but there native work and Python code slow the spinner alike (it waits for a core, or for the
   GIL), so the probe gives a lower bound: the time in C calls that keep the GIL, Python glue not counted.
2. The per-sample overhead of process workers: copying the output row into shared memory and out again,
   and pickling the row's inputs (what MindSpore's python_multiprocessing does per row).
3. Both pipelines end to end (bench/pipeline_cost.py, 2 workers, 2 epochs): images/s, CPU seconds per image
   over every process (workers included) and the main process's own share, from a run without the spinner;
   then the same run with the spinner in the main process for the seconds per image it held the GIL (the
   recipe's Python, MindSpore's Python glue, the iterator). The probe reads a lower bound: on a quiet machine a
   thread waiting for the GIL leaves the spinner at full speed.
4. The threads' own scaling, 1 against 2 thread workers without the spinner: Amdahl's serial share
   f = 2 / speed-up - 1 gives an upper bound of the time per image that never runs in parallel. The threads'
   ceiling used below is the lower of the two (1 / the larger time).

The model (Amdahl's law with the serial part held under one lock): with c cores per card and c workers, a
pipeline delivers min(c / CPU seconds per image, 1 / main-process GIL seconds per image) images/s: the work
spreads over the cores, except the part that holds the main process's GIL. Threads hold it for the recipe's
Python too; process workers hold their own GILs, the main process only for MindSpore's glue. Results: a markdown
table on stdout and bench/results/gil_ceiling.json. Usage: python bench/gil_ceiling.py [--images N] [--repeats R]
"""
import argparse
import hashlib
import json
import os
import pickle
import sys
import tempfile
import threading
import time
from datetime import date
from multiprocessing import shared_memory
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.pipeline_cost import HEIGHT, measure_pipeline  # noqa: E402
from bench.timing import median_seconds  # noqa: E402
from data.cityscapes import find_samples, read_image, read_label, read_sample  # noqa: E402
from data.make_data import make_data  # noqa: E402
from data.pipeline import _Augment  # noqa: E402
from data.recipes import (PytorchParams, ZooParams, corner_crop_box, flip_pair, gaussian_blur,  # noqa: E402
                          make_recipe, output_size, resize_pair)
from facts import labels  # noqa: E402

CORES = (2, 8, 16, 24, 48)
RESULTS = ROOT / "bench" / "results" / "gil_ceiling.json"


def _count(state):
    """Count until state["stop"] is set: pure bytecode, so it advances only while it holds the GIL."""
    while not state["stop"]:
        state["count"] += 1


def spinner_rate(function, results=None):
    """(seconds of `function`, iterations per second a pure-Python spinner thread made meanwhile); `function`'s
    result is appended to `results`."""
    state = {"stop": False, "count": 0}
    spinner = threading.Thread(target=_count, args=(state,))
    spinner.start()
    time.sleep(0.002)
    begin = state["count"]
    start = time.perf_counter()
    result = function()
    elapsed = time.perf_counter() - start
    if results is not None:
        results.append(result)
    counted = state["count"] - begin
    state["stop"] = True
    spinner.join()
    return elapsed, counted / elapsed


def _python_loop():
    total = 0
    for number in range(400000):
        total += number


_BYTES = bytes(32 * 2 ** 20)


def _native_work():
    """CPU work in C that releases the GIL throughout (hashlib does for buffers over 2 kB)."""
    hashlib.sha256(_BYTES).digest()


def probe(function, repeats):
    """(seconds of `function`, the spinner's speed beside it, beside native work that releases the GIL, beside a
    pure-Python loop): medians of `repeats` rounds, the conditions alternating in each round. Speeds are
    iterations per second relative to the spinner's own beside a sleep."""
    function()
    rounds = []
    for _ in range(repeats):
        _, idle = spinner_rate(lambda: time.sleep(0.03))
        elapsed, busy = spinner_rate(function)
        _, native = spinner_rate(_native_work)
        _, python = spinner_rate(_python_loop)
        rounds.append((elapsed, busy / idle, native / idle, python / idle))
    return tuple(np.median(np.array(rounds), axis=0))


def stages(recipe_name, sample):
    """(name, function) for each stage of one sample of the recipe, on the pipeline's own functions."""
    image, label = read_sample(sample)
    size = output_size(label.shape[1], label.shape[0], HEIGHT)
    small_image, small_label = resize_pair(image, label, size)
    recipe = make_recipe(recipe_name, height=HEIGHT, **({"crop_ratio": (1.0, 1.3)} if recipe_name == "zoo" else {}))
    samples = [sample]
    if recipe_name == "pytorch":
        params = PytorchParams(flip=True, shift_x=1, shift_y=-2)
        parts = [("decode image (Pillow)", lambda: read_image(sample.image_path)),
                 ("decode label (Pillow) + trainIds", lambda: read_label(sample)),
                 ("resize image + label (Pillow)", lambda: resize_pair(image, label, size)),
                 ("flip + shift (numpy)", lambda: recipe.augment(small_image, small_label, params))]
    else:
        params = ZooParams(blur_radius=0.6, crop=True, crop_ratio=1.15, corner=3, flip=True)
        box = corner_crop_box(label.shape[1], label.shape[0], params.crop_ratio, params.corner)
        blurred = gaussian_blur(image, params.blur_radius)

        def crop_resize():
            picture, label_picture = Image.fromarray(blurred).crop(box), Image.fromarray(label).crop(box)
            return (np.asarray(picture.resize(size, Image.BILINEAR)),
                    np.asarray(label_picture.resize(size, Image.NEAREST)))

        parts = [("decode image (Pillow)", lambda: read_image(sample.image_path)),
                 ("decode label (Pillow) + trainIds", lambda: read_label(sample)),
                 ("Gaussian blur r=0.6 (MindSpore C++)", lambda: gaussian_blur(image, params.blur_radius)),
                 ("crop + resize (Pillow)", crop_resize),
                 ("flip + contiguous copy (numpy)",
                  lambda: [np.ascontiguousarray(a) for a in flip_pair(small_image, small_label)])]
    augment = _Augment(samples, recipe, None, False, cached=False, pad=True, void=labels.VOID)
    vector = params.to_vector()
    return parts + [("whole sample (the pipeline's map function)", lambda: augment(np.int32(0), vector))], \
        augment(np.int32(0), vector)


def gil_table(recipe_name, sample, repeats):
    """Per stage: seconds alone, the spinner's relative speed beside it, and the seconds holding the GIL."""
    parts, _ = stages(recipe_name, sample)
    rows = []
    for name, function in [("calibration: sha256 of 32 MB (releases the GIL)", _native_work),
                           ("calibration: pure-Python loop (holds it)", _python_loop)] + parts:
        alone, speed, native, python = probe(function, repeats)
        held = held_share(speed, native, python)
        rows.append({"stage": name, "ms": 1000 * alone, "spinner_speed": speed, "spinner_speed_native": native,
                     "spinner_speed_python": python, "gil_ms": 1000 * alone * held})
        print(f"  {recipe_name}: {name}: {1000 * alone:.1f} ms, spinner at {speed:.2f} of its idle speed "
              f"({native:.2f} beside native work, {python:.2f} beside Python), {1000 * alone * held:.1f} ms keeping "
              f"the GIL in C", file=sys.stderr, flush=True)
    return rows


def process_overhead(row, repeats):
    """Seconds per row to copy the output arrays into shared memory and out, and to pickle the row's inputs."""
    arrays = [np.ascontiguousarray(a) for a in row]
    size = sum(a.nbytes for a in arrays)
    memory = shared_memory.SharedMemory(create=True, size=size)
    try:
        def through_shared_memory():
            offset = 0
            for array in arrays:
                view = np.ndarray(array.shape, array.dtype, buffer=memory.buf, offset=offset)
                view[...] = array
                np.array(view)
                offset += array.nbytes
                del view

        copy = median_seconds(through_shared_memory, repeats)
    finally:
        memory.close()
        memory.unlink()
    inputs = (np.array(0, np.int32), np.zeros(5))
    pickling = median_seconds(lambda: pickle.loads(pickle.dumps(inputs)), repeats)
    return {"row_bytes": size, "shared_memory_copy_ms": 1000 * copy, "pickle_inputs_ms": 1000 * pickling}


def project(cores, cpu_threads, gil_threads, cpu_processes, gil_processes):
    """(threads, processes) images/s per card with `cores` cores and as many workers: the CPU work spread over
    the cores, capped by the main process's GIL time per image."""
    return tuple(min(cores / cpu, 1 / gil if gil else float("inf"))
                 for cpu, gil in ((cpu_threads, gil_threads), (cpu_processes, gil_processes)))


def crossover_cores(threads, processes, most=256):
    """The fewest cores per card at which the model puts processes ahead of threads (None: not up to `most`)."""
    inputs = threads["cpu_s_per_image"], threads["gil_s_per_image"], processes["cpu_s_per_image"], \
        processes["gil_s_per_image"]
    return next((cores for cores in range(1, most + 1) if project(cores, *inputs)[1] > project(cores, *inputs)[0]),
                None)


def held_share(speed, native, python):
    """The share of the time the measured code kept the GIL inside C calls: the share by which the spinner ran
    slower than beside the slower of the two calibrations. A lower bound of the time holding the GIL: Python
    code shares it at every switch interval, so the spinner runs beside it as beside native work that
    releases it on a busy machine (both near half speed), and only C code that keeps the GIL stops it."""
    return min(max(1 - speed / min(native, python), 0.0), 1.0)


def probed_pipeline(root, recipe, kind):
    """The end-to-end measurement (2 workers): images/s and CPU per image from a run without the spinner (beside
    it the spinner's own CPU counts as the training process's), then the same run with the spinner thread in the
    main process for the seconds per image that process held the GIL (a lower bound: the probe's)."""
    end = measure_pipeline(root, recipe, 2, 4, False, 2, kind)
    _, idle = spinner_rate(lambda: time.sleep(1.0))
    elapsed, busy = spinner_rate(lambda: measure_pipeline(root, recipe, 2, 4, False, 2, kind))
    _, native = spinner_rate(lambda: [_native_work() for _ in range(10)])
    _, python = spinner_rate(lambda: [_python_loop() for _ in range(10)])
    images = elapsed * end["images_per_s"]
    speeds = busy / idle, native / idle, python / idle
    end.update(spinner_speed=speeds[0], spinner_speed_native=speeds[1], spinner_speed_python=speeds[2],
               gil_s_per_image=held_share(*speeds) * elapsed / images)
    return end


def thread_scaling(root, recipe, rounds=3):
    """The threads' serial share from their own scaling (Amdahl): images/s with 1 and with 2 thread workers
    (best of `rounds`), f = 2 / speed-up - 1, and the seconds per image that never run in parallel, f / (images/s
    of 1 worker). An upper bound of the time under the GIL (on 2 cores the training process's own work competes
    for the cores too), so 1 / that is a lower bound of the threads' ceiling; the probe gives the upper one."""
    rates = {workers: max(measure_pipeline(root, recipe, workers, 4, False, 2, "threads")["images_per_s"]
                          for _ in range(rounds)) for workers in (1, 2)}
    serial_share = min(max(2 * rates[1] / rates[2] - 1, 0.0), 1.0)
    return {"one_worker_images_s": rates[1], "two_workers_images_s": rates[2], "serial_share": serial_share,
            "serial_s_per_image": serial_share / rates[1]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=16, help="generated 2048x1024 training images")
    parser.add_argument("--repeats", type=int, default=7, help="rounds per stage")
    args = parser.parse_args()
    report = {"date": date.today().isoformat(), "cpus": os.cpu_count(),
              "load_average_at_start": os.getloadavg()[0], "images": args.images, "recipes": {}}
    with tempfile.TemporaryDirectory(prefix="erfnet-bench-") as folder:
        root = Path(folder)
        make_data(root, {"train": args.images}, 2048, seed=0)
        sample = find_samples(root, "train")[0]
        for recipe_name in ("pytorch", "zoo"):
            rows = gil_table(recipe_name, sample, args.repeats)
            overhead = process_overhead(stages(recipe_name, sample)[1], args.repeats)
            ends = {kind: probed_pipeline(root, recipe_name, kind) for kind in ("threads", "processes")}
            scaling = thread_scaling(root, recipe_name)
            threads, processes = ends["threads"], ends["processes"]
            threads["gil_s_per_image"] = max(threads["gil_s_per_image"], scaling["serial_s_per_image"])
            projection = {cores: project(cores, threads["cpu_s_per_image"], threads["gil_s_per_image"],
                                         processes["cpu_s_per_image"], processes["gil_s_per_image"])
                          for cores in CORES}
            report["recipes"][recipe_name] = {
                "stages": rows, "process_overhead": overhead, "pipelines": ends, "thread_scaling": scaling,
                "ceilings_images_s": {kind: 1 / end["gil_s_per_image"] if end["gil_s_per_image"] else float("inf")
                                      for kind, end in ends.items()},
                "projection": {c: {"threads": t, "processes": p} for c, (t, p) in projection.items()},
                "processes_ahead_from_cores": crossover_cores(threads, processes)}
    report["load_average_at_end"] = os.getloadavg()[0]
    print_report(report)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=1) + "\n")
    return 0


def print_report(report):
    print(f"\nGIL ceiling, {report['date']}, {report['cpus']} CPUs, load average {report['load_average_at_start']:.1f} "
          f"at start, {report['load_average_at_end']:.1f} at end\n")
    for name, recipe in report["recipes"].items():
        print(f"\n{name}: one 2048x1024 sample to 1024x512, ms (median)\n")
        print("| stage | ms | spinner speed beside it (beside native work, beside Python) | ms keeping the GIL in C |")
        print("|---|---|---|---|")
        for row in recipe["stages"]:
            print(f"| {row['stage']} | {row['ms']:.1f} | {row['spinner_speed']:.2f} ({row['spinner_speed_native']:.2f}, "
                  f"{row['spinner_speed_python']:.2f}) | {row['gil_ms']:.1f} |")
        overhead = recipe["process_overhead"]
        print(f"\nprocess workers, per row: {overhead['row_bytes'] / 1e6:.2f} MB through shared memory "
              f"{overhead['shared_memory_copy_ms']:.2f} ms, inputs pickled {overhead['pickle_inputs_ms']:.3f} ms")
        print("\n| pipeline, 2 workers | images/s | CPU ms/image (all processes) | main process CPU ms/image | "
              "spinner speed (native, Python) | main process GIL ms/image (threads: the higher bound) | "
              "ceiling images/s |")
        print("|---|---|---|---|---|---|---|")
        for kind, end in recipe["pipelines"].items():
            print(f"| {kind} | {end['images_per_s']:.1f} | {1000 * end['cpu_s_per_image']:.0f} | "
                  f"{1000 * end['main_cpu_s_per_image']:.0f} | {end['spinner_speed']:.2f} "
                  f"({end['spinner_speed_native']:.2f}, {end['spinner_speed_python']:.2f}) | {1000 * end['gil_s_per_image']:.1f} | "
                  f"{recipe['ceilings_images_s'][kind]:.0f} |")
        scaling = recipe["thread_scaling"]
        print(f"\nthreads' own scaling: {scaling['one_worker_images_s']:.1f} images/s with 1 worker, "
              f"{scaling['two_workers_images_s']:.1f} with 2: serial share at most {scaling['serial_share']:.2f}, "
              f"{1000 * scaling['serial_s_per_image']:.1f} ms per image; the threads' ceiling (the lower of the "
              f"probe's and this) {recipe['ceilings_images_s']['threads']:.0f} images/s")
        print("\n| cores per card | threads images/s | processes images/s |")
        print("|---|---|---|")
        for cores, kinds in recipe["projection"].items():
            print(f"| {cores} | {kinds['threads']:.0f} | {kinds['processes']:.0f} |")
        print(f"\nprocesses ahead of threads from {recipe['processes_ahead_from_cores']} cores per card")


if __name__ == "__main__":
    sys.exit(main())
