"""Class maps as pictures: a palette for the network's class count and its blend with the photo.

19 or 20 classes get Cityscapes' official colours (facts.labels.palette, void black); a dataset's classes.yaml
may give its own; any other count gets generated colours, hues spread by the golden angle so that neighbouring
class ids differ clearly.
"""
import colorsys

import numpy as np

from facts.labels import NUM_CLASSES, VOID, palette

OVERLAY_ALPHA = 0.5
GOLDEN_ANGLE = 0.381966  # of a full turn: consecutive hues never fall close together


def generated_palette(count):
    """uint8 [count, 3]: distinct colours, alternating between two brightness levels."""
    colours = [colorsys.hsv_to_rgb((index * GOLDEN_ANGLE) % 1.0, 0.75, 0.95 if index % 2 else 0.7)
               for index in range(count)]
    return np.rint(np.array(colours) * 255).astype(np.uint8).reshape(count, 3)


def class_palette(num_classes, colours=None):
    """uint8 [256, 3] for class maps of a `num_classes`-channel network: `colours` (one RGB triple per class, from
    a classes.yaml) where given, Cityscapes' for 19 or 20 classes, generated otherwise; every value beyond the
    classes black (void, ignored)."""
    table = np.zeros((256, 3), dtype=np.uint8)
    if colours is not None:
        chosen = np.asarray(colours, dtype=np.uint8).reshape(-1, 3)[:num_classes]
    elif num_classes in (VOID, NUM_CLASSES):
        chosen = palette()[:num_classes]
    else:
        chosen = generated_palette(num_classes)
    table[:len(chosen)] = chosen
    return table


_CITYSCAPES = class_palette(NUM_CLASSES)


def colorize(train_ids, table=_CITYSCAPES):
    """uint8 [H, W, 3]: each class id in its colour of `table` (class_palette; Cityscapes' by default)."""
    return table[np.asarray(train_ids)]


def overlay(photo, train_ids, alpha=OVERLAY_ALPHA, table=_CITYSCAPES):
    """uint8 [H, W, 3]: the photo blended with the class colours, `alpha` the colours' share."""
    blended = (1 - alpha) * photo.astype(np.float32) + alpha * colorize(train_ids, table).astype(np.float32)
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)
