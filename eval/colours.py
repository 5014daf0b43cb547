"""Class maps as pictures: the Cityscapes palette (facts.labels.palette, void black) and its blend with
the photo."""
import numpy as np

from facts.labels import palette

_PALETTE = palette()
OVERLAY_ALPHA = 0.5


def colorize(train_ids):
    """uint8 [H, W, 3]: each trainId (0..19) in its official Cityscapes colour, void black."""
    return _PALETTE[np.asarray(train_ids)]


def overlay(photo, train_ids, alpha=OVERLAY_ALPHA):
    """uint8 [H, W, 3]: the photo blended with the class colours, `alpha` the colours' share."""
    blended = (1 - alpha) * photo.astype(np.float32) + alpha * colorize(train_ids).astype(np.float32)
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)
