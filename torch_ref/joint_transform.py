"""erfnet_pytorch's joint image/label transform for training (its MyCoTransform), written with Pillow.

Resize so the shorter side is `height` (torchvision's Resize(int): the longer side becomes
int(height * long / short); image bilinear, label nearest); when augmenting, a horizontal flip with
probability 0.5 and a shift of -2..2 pixels in x and y, drawn from python's `random` in that order;
then the image as float CHW in [0, 1], the label as a (1, H, W) long tensor, for the encoder stage
first nearest-resized to int(height / 8), and void 255 relabelled 19 (on data of K classes: K).

One documented deviation: erfnet_pytorch fills the area a negative shift exposes in the label with 0
(road, a real class) because its crop runs past the picture; here every exposed label pixel is void.
"""
import random

import numpy as np
import torch
from PIL import Image, ImageOps

MAX_SHIFT = 2
VOID_LABEL = 255
VOID_TRAIN_ID = 19


def resize_shorter_side(picture, size, resample):
    """`picture` resized so its shorter side is `size`, the longer int(size * long / short)."""
    width, height = picture.size
    if width <= height:
        return picture.resize((size, int(size * height / width)), resample)
    return picture.resize((int(size * width / height), size), resample)


def shift(picture, dx, dy, fill):
    """`picture` moved right by `dx` and down by `dy` (negative: left, up) at its own size, the exposed
    border set to `fill`: expanded by a border on the side it moves away from, then cropped back."""
    width, height = picture.size
    border = (max(dx, 0), max(dy, 0), max(-dx, 0), max(-dy, 0))
    grown = ImageOps.expand(picture, border=border, fill=fill)
    left, top = max(-dx, 0), max(-dy, 0)
    return grown.crop((left, top, left + width, top + height))


def flip_and_shift(image, label, flip, dx, dy):
    """The augmentation for given draws: optional horizontal flip, then the shift; exposed image pixels
    are 0, exposed label pixels void."""
    if flip:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        label = label.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return shift(image, dx, dy, 0), shift(label, dx, dy, VOID_LABEL)


def image_tensor(image):
    """An RGB picture as float32 (3, H, W) in [0, 1], as torchvision's ToTensor makes it."""
    pixels = torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1).contiguous()
    return pixels.float().div(255)


def label_tensor(label, void_id=VOID_TRAIN_ID):
    """A label picture as a (1, H, W) long tensor with void 255 relabelled `void_id`."""
    ids = torch.from_numpy(np.array(label)).long().unsqueeze(0)
    ids[ids == VOID_LABEL] = void_id
    return ids


class JointTransform:
    """erfnet_pytorch's MyCoTransform(enc, augment, height): `(image, label)` pictures to tensors;
    `encoder` gives labels at 1/8 of `height` for the encoder-alone stage; void pixels become `void_id`
    (Cityscapes' 19, the class count K on data of K classes)."""

    def __init__(self, encoder, augment=True, height=512, void_id=VOID_TRAIN_ID):
        self.encoder = encoder
        self.augment = augment
        self.height = height
        self.void_id = void_id

    def __call__(self, image, label):
        image = resize_shorter_side(image, self.height, Image.Resampling.BILINEAR)
        label = resize_shorter_side(label, self.height, Image.Resampling.NEAREST)
        if self.augment:
            flip = random.random() < 0.5
            dx = random.randint(-MAX_SHIFT, MAX_SHIFT)
            dy = random.randint(-MAX_SHIFT, MAX_SHIFT)
            image, label = flip_and_shift(image, label, flip, dx, dy)
        if self.encoder:
            label = resize_shorter_side(label, int(self.height / 8), Image.Resampling.NEAREST)
        return image_tensor(image), label_tensor(label, self.void_id)
