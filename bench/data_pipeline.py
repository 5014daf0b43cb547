"""Data pipeline throughput: ours (mindspore.dataset) vs a reference built the way erfnet_pytorch does it
(Pillow transforms in a torch DataLoader), measured in the same run on generated 2048x1024 PNGs turned
into 1024x512 training tensors. Also times MindSpore's C++ vision ops against Pillow and measures how far
their pixels are from Pillow's.

Prints three markdown tables. Images/s count every image of `--epochs` epochs over the time from creating the
iterator to the last batch, worker start-up included for both sides (prefetching across epochs makes a
single later epoch look faster than it is). Ours runs with each worker kind (threads, processes, and `auto`,
data/workers.py), with its CPU time per image over every process it uses and the cores one card's pipeline
needs for 30 images/s at that cost, unless a thread pool's GIL ceiling (bench/results/gil_ceiling.json, written
by bench/gil_ceiling.py) is below 30. With --before DIR it measures instead `auto` against an earlier version
of the pipeline. Usage: python bench/data_pipeline.py [--images N] [--epochs E] [--before DIR]
"""
import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter, ImageOps

ROOT = Path(__file__).resolve().parents[1]
GIL_RESULTS = ROOT / "bench" / "results" / "gil_ceiling.json"
sys.path.insert(0, str(ROOT))

from bench.timing import best_seconds  # noqa: E402
from data.cache import prepare  # noqa: E402
from data.cityscapes import find_samples  # noqa: E402
from data.make_data import make_data  # noqa: E402
from bench.pipeline_cost import HEIGHT, measure_pipeline, rate_in_tree  # noqa: E402
from data.workers import uses_processes  # noqa: E402




class ErfnetPytorchStyle(torch.utils.data.Dataset):
    """erfnet_pytorch's `cityscapes` dataset with its MyCoTransform, or the zoo recipe written the same way."""

    def __init__(self, samples, recipe):
        self.samples, self.recipe = samples, recipe

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        sample = self.samples[index]
        image = Image.open(sample.image_path).convert("RGB")
        label = Image.open(sample.label_path).convert("P")
        size = (2 * HEIGHT, HEIGHT)
        if self.recipe == "zoo":
            image = image.filter(ImageFilter.GaussianBlur(radius=random.random()))
            if random.random() < 0.5:
                ratio = random.uniform(1.0, 1.3)
                w, h = int(image.width / ratio), int(image.height / ratio)
                left, top = random.choice([0, image.width - w]), random.choice([0, image.height - h])
                image, label = image.crop((left, top, left + w, top + h)), label.crop((left, top, left + w, top + h))
        image, label = image.resize(size, Image.BILINEAR), label.resize(size, Image.NEAREST)
        if random.random() < 0.5:
            image, label = image.transpose(Image.FLIP_LEFT_RIGHT), label.transpose(Image.FLIP_LEFT_RIGHT)
        if self.recipe == "pytorch":
            tx, ty = random.randint(-2, 2), random.randint(-2, 2)
            image = ImageOps.expand(image, border=(tx, ty, 0, 0), fill=0).crop((0, 0, size[0], size[1]))
            label = ImageOps.expand(label, border=(tx, ty, 0, 0), fill=255).crop((0, 0, size[0], size[1]))
        image = torch.from_numpy(np.array(image)).permute(2, 0, 1).contiguous().float().div(255)
        label = torch.from_numpy(np.array(label)).long().unsqueeze(0)
        label[label == 255] = 19
        return image, label


def images_per_second(start, iterable, epochs):
    """Consume `epochs` passes over `iterable` (batches of (images, labels)); images/s since `start`."""
    count = 0
    for _ in range(epochs):
        for images, _ in iterable:
            count += images.shape[0]
    return count / (time.perf_counter() - start)


def reference_rate(samples, recipe, workers, batch, epochs):
    start = time.perf_counter()
    loader = torch.utils.data.DataLoader(ErfnetPytorchStyle(samples, recipe), batch_size=batch, shuffle=True,
                                         num_workers=workers, drop_last=True, persistent_workers=True)
    return images_per_second(start, loader, epochs)


KINDS = [(1, "threads"), (2, "threads"), (2, "processes"), (2, "auto")]
CONFIGS = [(recipe, cache, workers, kind) for recipe, cache in (("pytorch", True), ("pytorch", False), ("zoo", False))
           for workers, kind in KINDS]
TARGET = 30  # images/s one card needs (issue 26: ERFNet trains at 18-24 images/s per Ascend card)


def thread_ceilings():
    """Images/s a thread pool cannot pass, per recipe, from bench/results/gil_ceiling.json when it exists."""
    if not GIL_RESULTS.is_file():
        return {}
    report = json.loads(GIL_RESULTS.read_text())
    return {recipe: results["ceilings_images_s"]["threads"] for recipe, results in report["recipes"].items()}


def cores_for_target(end, kind, ceiling):
    """Cores one card's pipeline needs for TARGET images/s at the measured CPU cost, or why none suffice."""
    if kind == "threads" and ceiling is not None and ceiling < TARGET:
        return f"none (GIL ceiling {ceiling:.0f}/s)"
    return f"{TARGET * end['cpu_s_per_image']:.1f}"


def pipeline_table(root, samples, batch, epochs, repeats):
    """Best of `repeats` rounds, each round measuring every pipeline once, ours and the reference alternating,
    so a burst of load from other processes hits both sides alike."""
    ours, reference = {}, {}
    for round_number in range(repeats):
        for recipe, cache, workers, kind in CONFIGS:
            if not cache and kind == "threads":
                rate = reference_rate(samples, recipe, workers, batch, epochs)
                reference[recipe, workers] = max(reference.get((recipe, workers), 0), rate)
            end = measure_pipeline(root, recipe, workers, batch, cache, epochs, kind)
            key = recipe, cache, workers, kind
            if end["images_per_s"] > ours.get(key, {"images_per_s": 0})["images_per_s"]:
                ours[key] = end
        print(f"round {round_number + 1}/{repeats} done, load average {os.getloadavg()[0]:.1f}", file=sys.stderr)
    ceilings = thread_ceilings()
    print(f"| recipe | cache | workers | worker kind | ours images/s | CPU ms/image | cores per card for {TARGET} "
          "images/s | reference images/s | ours/reference |")
    print("|---|---|---|---|---|---|---|---|---|")
    for recipe, cache, workers, kind in CONFIGS:
        end = ours[recipe, cache, workers, kind]
        resolved = "processes" if uses_processes(kind, workers) else "threads"
        shown = f"auto ({resolved})" if kind == "auto" else kind
        cores = cores_for_target(end, resolved, None if cache else ceilings.get(recipe))
        theirs = reference.get((recipe, workers)) if kind == "threads" and not cache else None
        compared = f"{theirs:.1f} | {end['images_per_s'] / theirs:.2f}x" if theirs else "| "
        print(f"| {recipe} | {'yes' if cache else 'no'} | {workers} | {shown} | {end['images_per_s']:.1f} | "
              f"{1000 * end['cpu_s_per_image']:.0f} | {cores} | {compared} |")
    print(f"\n`auto` against today's choices, 2 workers: the pipeline's default (threads) and the trainer's "
          f"(processes whenever workers > 1)\n")
    print("| recipe | cache | auto / threads | auto / processes |")
    print("|---|---|---|---|")
    for recipe, cache in dict.fromkeys((recipe, cache) for recipe, cache, _, _ in CONFIGS):
        auto = ours[recipe, cache, 2, "auto"]["images_per_s"]
        print(f"| {recipe} | {'yes' if cache else 'no'} | {auto / ours[recipe, cache, 2, 'threads']['images_per_s']:.2f}x"
              f" | {auto / ours[recipe, cache, 2, 'processes']['images_per_s']:.2f}x |")


def before_table(root, before, rounds):
    """`auto` against an earlier version's pipeline (`before`: a source tree, e.g. `git archive main`), both in
    fresh processes, alternating, best of `rounds` (CPU per image: the lowest): the earlier version with threads
    (its pipeline's default) and with processes (its trainer's choice whenever workers > 1), 2 workers."""
    print(f"\n`auto` against the pipeline of {before}, 2 workers, best of {rounds} alternating rounds\n")
    print("| recipe | auto runs | auto images/s (CPU ms/image) | before, threads | before, processes | "
          "auto / before threads | auto / before processes |")
    print("|---|---|---|---|---|---|---|")
    runs = {"threads": (before, False), "auto": (ROOT, uses_processes("auto", 2)), "processes": (before, True)}
    for recipe in ("zoo", "pytorch"):
        rate, cpu = {}, {}
        for _ in range(rounds):
            for name, (tree, processes) in runs.items():
                images_per_s, cpu_s = rate_in_tree(tree, root, recipe, 2, processes)
                rate[name], cpu[name] = max(rate.get(name, 0.0), images_per_s), min(cpu.get(name, 1e9), cpu_s)
        shown = {name: f"{rate[name]:.1f} ({1000 * cpu[name]:.0f})" for name in runs}
        kind = "processes" if uses_processes("auto", 2) else "threads"
        print(f"| {recipe} | {kind} | {shown['auto']} | {shown['threads']} | {shown['processes']} | "
              f"{rate['auto'] / rate['threads']:.2f}x | {rate['auto'] / rate['processes']:.2f}x |", flush=True)


def ops_table(sample):
    """MindSpore C++ vision ops vs Pillow on one 2048x1024 image: time and pixel difference."""
    import mindspore.dataset.vision as vision
    from mindspore.dataset.vision import Inter
    encoded = np.fromfile(sample.image_path, dtype=np.uint8)
    picture = Image.open(sample.image_path).convert("RGB")
    image = np.asarray(picture)
    label = Image.open(sample.label_path)
    cases = [
        ("decode PNG", lambda: np.asarray(Image.open(sample.image_path).convert("RGB")),
         lambda: vision.Decode()(encoded)),
        ("resize bilinear to 1024x512", lambda: np.asarray(picture.resize((1024, 512), Image.BILINEAR)),
         lambda: vision.Resize((512, 1024), Inter.BILINEAR)(image)),
        ("resize nearest (label) to 1024x512", lambda: np.asarray(label.resize((1024, 512), Image.NEAREST)),
         lambda: vision.Resize((512, 1024), Inter.NEAREST)(np.asarray(label)[..., None])[..., 0]),
        ("Gaussian blur radius 0.5", lambda: np.asarray(picture.filter(ImageFilter.GaussianBlur(0.5))),
         lambda: vision.GaussianBlur(5, 0.5)(image)),
        ("Gaussian blur radius 0.9", lambda: np.asarray(picture.filter(ImageFilter.GaussianBlur(0.9))),
         lambda: vision.GaussianBlur(7, 0.9)(image)),
        ("horizontal flip", lambda: np.asarray(picture.transpose(Image.FLIP_LEFT_RIGHT)),
         lambda: vision.HorizontalFlip()(image)),
    ]
    print("| operation (2048x1024) | Pillow ms | MindSpore C++ ms | differing values | mean abs diff | max abs diff |")
    print("|---|---|---|---|---|---|")
    for name, pillow, ours in cases:
        difference = np.abs(pillow().astype(np.int32) - ours())
        pillow_ms, ours_ms = 1000 * best_seconds(pillow, 5), 1000 * best_seconds(ours, 5)
        print(f"| {name} | {pillow_ms:.1f} | {ours_ms:.1f} | {100 * np.mean(difference > 0):.2f}% | "
              f"{difference.mean():.3f} | {difference.max()} |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=32, help="generated 2048x1024 training images")
    parser.add_argument("--epochs", type=int, default=2, help="epochs timed per pipeline")
    parser.add_argument("--repeats", type=int, default=2, help="rounds; each pipeline reports its best round")
    parser.add_argument("--batch", type=int, default=4, help="batch size")
    parser.add_argument("--before", type=Path, default=None,
                        help="instead of the tables: `auto` against the pipeline of this earlier source tree "
                             "(git archive REV | tar -x -C DIR)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="erfnet-bench-") as folder:
        root = Path(folder)
        print(f"writing {args.images} generated 2048x1024 scenes and the 512 cache ...", file=sys.stderr)
        make_data(root, {"train": args.images}, 2048, seed=0)
        if args.before is not None:
            before_table(root, args.before, args.repeats)
            return 0
        prepare(root, "train", HEIGHT)
        samples = find_samples(root, "train")
        print(f"\nData pipeline: 2048x1024 PNGs -> 1024x512 training batches, images/s ({args.images} images x "
              f"{args.epochs} epochs, batch {args.batch}, start-up included, best of {args.repeats}; "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start)\n")
        pipeline_table(root, samples, args.batch, args.epochs, args.repeats)
        print("\nMindSpore C++ vision ops vs Pillow (best of 5)\n")
        ops_table(samples[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
