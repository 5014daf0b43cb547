"""From pictures to class maps, shared by `erfnet eval` and `erfnet infer` so both predict the same pixels.

Input: the evaluation pipeline's tensors (train.data's val recipe: Pillow bilinear resize to height H, then
MindSpore's ToTensor to float32 in [0, 1]). Output: trainIds (uint8, 19 = void) either at the network's
resolution or at a native resolution, reached by bilinear upsampling of the logits (half-pixel centres)
before the argmax, so the full-resolution map is decided on interpolated scores, not on blocky labels.
"""
import contextlib
from typing import Protocol

import mindspore as ms
import mindspore.nn as nn
import mindspore.dataset.vision as vision
import mindspore.ops as ops
import numpy as np

from data.recipes import output_size, resize_pair
from facts.spec import stride_padding

_TO_TENSOR = vision.ToTensor()


class Predictor(Protocol):
    """Something that predicts ERFNet's scores: a MindSpore ERFNet, or eval.runtime.OnnxRuntime."""
    num_classes: int

    def __call__(self, images: ms.Tensor) -> ms.Tensor:
        """Logits [B, C, H, W] of float32 images [B, 3, H, W] in [0, 1]."""


@contextlib.contextmanager
def inference_mode(predictor):
    """A MindSpore network in inference mode for the block, given back in the mode it came in; any other
    predictor only infers already."""
    if not isinstance(predictor, nn.Cell):
        yield predictor
        return
    was_training = predictor.training
    predictor.set_train(False)
    try:
        yield predictor
    finally:
        predictor.set_train(was_training)


def image_tensor(image, height):
    """uint8 [h, w, 3] at any size -> float32 [3, H, W] in [0, 1], exactly as the val pipeline makes it.

    The val recipe resizes image and label together; this passes a 1x1 placeholder label, as there is none.
    """
    size = output_size(image.shape[1], image.shape[0], height)
    resized, _ = resize_pair(image, np.zeros((1, 1), dtype=np.uint8), size)
    return _TO_TENSOR(resized)


def logits(net, images):
    """The scores [B, C, H, W] (a MindSpore tensor) of `net` (a Predictor) for float32 images [B, 3, H, W] of
    any size.

    ERFNet needs sides that are multiples of 8: other images are padded at the bottom and right by repeating
    their edge pixels (a zero band would read as a dark object next to the border; training pads the same way,
    data.recipes.pad_pair_to_stride) and the scores cropped back to H x W. Sizes that are multiples of 8 are
    not touched, so their scores are what they always were.
    """
    images = np.asarray(images, dtype=np.float32)
    height, width = images.shape[2:]
    rows, columns = stride_padding(height, width)
    if rows or columns:
        images = np.pad(images, ((0, 0), (0, 0), (0, rows), (0, columns)), mode="edge")
    scores = net(ms.Tensor(np.ascontiguousarray(images)))
    return scores[:, :, :height, :width] if rows or columns else scores


def class_map(scores):
    """trainIds uint8 [B, H, W]: the best-scoring channel of each pixel."""
    return ops.argmax(scores, dim=1).asnumpy().astype(np.uint8)


def native_class_map(scores, size):
    """trainIds uint8 [B, h, w] at size=(h, w): logits upsampled bilinearly, then the argmax."""
    if tuple(scores.shape[2:]) != tuple(size):
        scores = ops.interpolate(scores, size=tuple(int(s) for s in size), mode="bilinear", align_corners=False)
    return class_map(scores)
