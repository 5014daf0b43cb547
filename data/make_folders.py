"""Generated street scenes (data.scenes) written as a folders dataset of K classes (data/folders.py), for tests,
demos and a first try of one's own data. With K < 19 the K - 1 classes that cover most of a scene keep their
Cityscapes names (road, sky, building, ...) and every other class becomes "other"; with K >= 19 the classes are
Cityscapes' 19 trainIds (ids above 18 have no pixels). Ignored pixels are 255."""
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from data import folders, scenes
from facts import labels
from facts.atomic import atomic_output
from facts.progress import progress


PROMINENT = ("road", "sky", "building", "vegetation", "car", "sidewalk", "terrain", "person", "wall", "fence",
             "truck", "bus", "pole", "traffic sign", "traffic light", "rider", "bicycle", "motorcycle")
OTHER = "other"


def kept_classes(num_classes):
    """The Cityscapes class names that keep a class of their own, in class id order."""
    if num_classes >= labels.VOID:
        return labels.CLASS_NAMES
    return PROMINENT[:num_classes - 1]


def class_of_train_id(num_classes):
    """uint8 [256]: Cityscapes trainId (0..18, 19 void) -> class id 0..K-1, void -> 255."""
    table = np.full(256, folders.IGNORE_ID, dtype=np.uint8)
    kept = kept_classes(num_classes)
    for train_id, name in enumerate(labels.CLASS_NAMES):
        table[train_id] = kept.index(name) if name in kept else num_classes - 1
    return table


def classes_yaml(num_classes):
    """classes.yaml's mapping: names and Cityscapes' colours ("other" grey, unused ids black)."""
    kept = kept_classes(num_classes)
    colour = dict(zip(labels.CLASS_NAMES, labels.palette().tolist()))
    names = list(kept) + ([OTHER] if len(kept) < num_classes and num_classes < labels.VOID else [])
    names += [f"unused{index}" for index in range(len(names), num_classes)]
    colours = [colour.get(name, [128, 128, 128] if name == OTHER else [0, 0, 0]) for name in names]
    return {"names": names, "colours": colours}


def _save(array, path):
    with atomic_output(path) as temporary:
        Image.fromarray(array).save(temporary, format="PNG")


def make_folders_data(root, counts, width, seed, num_classes, quiet=True):
    """Write classes.yaml and counts[split] scenes per split under `root`; deterministic given `seed`."""
    root = Path(root)
    with atomic_output(root / folders.CLASSES_FILE) as temporary:
        temporary.write_text(yaml.safe_dump(classes_yaml(num_classes), sort_keys=False, default_flow_style=None))
    table = class_of_train_id(num_classes)
    with progress(sum(counts.values()), "make-data", unit="scene", disable=quiet) as bar:
        for split_number, (split, count) in enumerate(counts.items()):
            rng = np.random.default_rng([seed, split_number])
            for index in range(count):
                ids = scenes.draw_label_ids(rng, width)
                stem = f"{split}_{index:06d}"
                _save(scenes.render_image(rng, ids), root / folders.IMAGES / split / f"{stem}.png")
                _save(table[labels.label_ids_to_train_ids(ids)], root / folders.LABELS / split / f"{stem}.png")
                bar.update()
