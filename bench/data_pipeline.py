"""Data pipeline throughput: ours (mindspore.dataset) vs a reference built the way erfnet_pytorch does it
(Pillow transforms in a torch DataLoader), measured in the same run on generated 2048x1024 PNGs turned
into 1024x512 training tensors. Also times MindSpore's C++ vision ops against Pillow and measures how far
their pixels are from Pillow's.

Prints two markdown tables. Images/s count every image of `--epochs` epochs over the time from creating the
iterator to the last batch, worker start-up included for both sides (prefetching across epochs makes a
single later epoch look faster than it is). Usage: python bench/data_pipeline.py [--images N] [--epochs E]
"""
import argparse
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
sys.path.insert(0, str(ROOT))

from bench.timing import best_seconds  # noqa: E402
from data.cache import prepare  # noqa: E402
from data.cityscapes import find_samples  # noqa: E402
from data.make_data import make_data  # noqa: E402
from data.pipeline import make_dataset  # noqa: E402

HEIGHT = 512


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


def our_rate(root, recipe, workers, batch, cache, epochs):
    start = time.perf_counter()
    dataset = make_dataset(root, "train", recipe=recipe, height=HEIGHT, batch_size=batch, shuffle=True, seed=0,
                           num_workers=workers, drop_remainder=True, crop_ratio=(1.0, 1.3) if recipe == "zoo" else None,
                           cache=True if cache else None)
    return images_per_second(start, dataset.create_tuple_iterator(num_epochs=epochs, output_numpy=True), epochs)


CONFIGS = [(recipe, cache, workers) for recipe, cache in (("pytorch", True), ("pytorch", False), ("zoo", False))
           for workers in (1, 2)]


def pipeline_table(root, samples, batch, epochs, repeats):
    """Best of `repeats` rounds, each round measuring every pipeline once, ours and the reference alternating,
    so a burst of load from other processes hits both sides alike."""
    ours, reference = {}, {}
    for round_number in range(repeats):
        for recipe, cache, workers in CONFIGS:
            if not cache:
                rate = reference_rate(samples, recipe, workers, batch, epochs)
                reference[recipe, workers] = max(reference.get((recipe, workers), 0), rate)
            rate = our_rate(root, recipe, workers, batch, cache, epochs)
            ours[recipe, cache, workers] = max(ours.get((recipe, cache, workers), 0), rate)
        print(f"round {round_number + 1}/{repeats} done, load average {os.getloadavg()[0]:.1f}", file=sys.stderr)
    print("| recipe | cache | workers | ours images/s | reference images/s | ours/reference |")
    print("|---|---|---|---|---|---|")
    for recipe, cache, workers in CONFIGS:
        theirs = reference[recipe, workers]
        mine = ours[recipe, cache, workers]
        print(f"| {recipe} | {'yes' if cache else 'no'} | {workers} | {mine:.1f} | {theirs:.1f} | "
              f"{mine / theirs:.2f}x |")


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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="erfnet-bench-") as folder:
        root = Path(folder)
        print(f"writing {args.images} generated 2048x1024 scenes and the 512 cache ...", file=sys.stderr)
        make_data(root, {"train": args.images}, 2048, seed=0)
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
