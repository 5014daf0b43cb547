"""`erfnet make-data`: write generated street scenes in the real Cityscapes layout and file names."""
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from erfnet.atomic import atomic_output
from erfnet.errors import UserError
from train.data import labels, scenes
from train.data.cityscapes import IMAGE_SUFFIX, label_name

CITIES = {"train": ("aachen", "bremen"), "val": ("frankfurt",)}
_RGBA_COLOURS = np.zeros((256, 4), dtype=np.uint8)
for _label in scenes.name2label.values():
    if 0 <= _label.id < 256:
        _RGBA_COLOURS[_label.id] = (*_label.color, 255)


def _save(array, path):
    with atomic_output(path) as tmp:
        Image.fromarray(array).save(tmp, format="PNG")


def write_sample(root, split, city, index, rng, width):
    """Draw one scene and write its image, labelIds, labelTrainIds, color and instanceIds PNGs."""
    stem = f"{city}_{index:06d}_{19 + index % 7:06d}"
    ids = scenes.draw_label_ids(rng, width)
    train_ids = labels.label_ids_to_train_ids(ids)
    train_ids[train_ids == labels.VOID] = labels.IGNORE_TRAIN_ID
    gt = Path(root) / "gtFine" / split / city
    _save(scenes.render_image(rng, ids), Path(root) / "leftImg8bit" / split / city / f"{stem}{IMAGE_SUFFIX}")
    _save(ids, gt / label_name(stem, "labelIds"))
    _save(train_ids, gt / label_name(stem, "labelTrainIds"))
    _save(_RGBA_COLOURS[ids], gt / label_name(stem, "color"))
    _save(scenes.instance_ids(ids), gt / label_name(stem, "instanceIds"))
    return stem


def make_data(root, counts, width, seed, progress=None):
    """Write counts[split] scenes per split under `root`, cities alternating; deterministic given `seed`."""
    total, done, start = sum(counts.values()), 0, time.perf_counter()
    for split_number, (split, count) in enumerate(counts.items()):
        rng = np.random.default_rng([seed, split_number])
        cities = CITIES[split]
        for index in range(count):
            write_sample(root, split, cities[index % len(cities)], index, rng, width)
            done += 1
            if progress:
                progress(done, total, time.perf_counter() - start)


def _progress(done, total, seconds):
    end = "\n" if done == total else ""
    print(f"\rmake-data: {done}/{total} scenes, {done / max(seconds, 1e-9):.1f} images/s", end=end,
          file=sys.stderr, flush=True)


def add_arguments(parser):
    parser.add_argument("out", type=Path, help="output folder: becomes a Cityscapes root "
                        "(leftImg8bit/<split>/<city>/..., gtFine/<split>/<city>/...)")
    parser.add_argument("--train", type=int, default=32, help="number of training scenes")
    parser.add_argument("--val", type=int, default=8, help="number of validation scenes")
    parser.add_argument("--width", type=int, default=256, help="image width in pixels; height is width/2")
    parser.add_argument("--seed", type=int, default=0, help="random seed: the same seed writes the same files")


def run(args):
    if args.train < 0 or args.val < 0 or args.train + args.val == 0:
        raise UserError("--train and --val must be >= 0 and not both 0")
    if args.width < 16 or args.width % 2:
        raise UserError(f"--width {args.width}: must be an even number >= 16")
    if args.out.exists() and not args.out.is_dir():
        raise UserError(f"{args.out}: exists and is not a folder")
    make_data(args.out, {"train": args.train, "val": args.val}, args.width, args.seed, progress=_progress)
    print(f"wrote {args.train} train and {args.val} val scenes of {args.width}x{args.width // 2} to {args.out}")
    return 0
