"""Generated street scenes (data.scenes) written in the real Cityscapes layout and file names."""
from pathlib import Path

import numpy as np
from PIL import Image

from data import scenes
from data.cityscapes import IMAGE_SUFFIX, label_name
from facts import labels
from facts.atomic import atomic_output
from facts.progress import progress

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


def make_data(root, counts, width, seed, quiet=True):
    """Write counts[split] scenes per split under `root`, cities alternating; deterministic given `seed`.
    A progress bar unless `quiet`."""
    with progress(sum(counts.values()), "make-data", unit="scene", disable=quiet) as bar:
        for split_number, (split, count) in enumerate(counts.items()):
            rng = np.random.default_rng([seed, split_number])
            cities = CITIES[split]
            for index in range(count):
                write_sample(root, split, cities[index % len(cities)], index, rng, width)
                bar.update()
