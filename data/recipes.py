"""The augmentation recipes. Each recipe draws its random parameters (`draw(rng)`) separately from applying
them (`apply(image, label, params)`), so tests can replay the same parameters on an independent reference.

Arrays in and out: image uint8 [H, W, 3], label uint8 [H, W] with class ids and `void` for ignored pixels
(Cityscapes: trainIds 0..19, 19 = void; a folders dataset of K classes: 0..K, data/layout.py).
Resizing uses Pillow, as both references do: MindSpore's Resize (OpenCV, no antialiasing) differs from it by
up to 40 grey levels, and Pillow's antialiased resize is what the published models saw. The zoo blur uses
MindSpore's C++ GaussianBlur, faster than Pillow's box-blur approximation of a Gaussian (bench/data_pipeline.py)
and close to it after the resize (parity_tests/data/test_data_recipes.py states the bound).

- `pytorch` (erfnet_pytorch): resize to height H (bilinear image, nearest label), horizontal flip with
  probability `flip_p`, translation by integers in [-max_shift, max_shift] with the exposed image area 0 and
  the exposed label area void. erfnet_pytorch fills the exposed label area with 0 (road) when the shift is
  negative; that bug is not reproduced.
- `zoo` (MindSpore model zoo): Gaussian blur with radius in [0, max_blur); with probability `crop_p` a crop of
  (W/r, H/r) at a random corner, r fixed or uniform in [low, high); resize to height H; flip with `flip_p`.
- `val`: resize to height H only.
"""
import math
from dataclasses import astuple, dataclass

import numpy as np
from PIL import Image

from facts.labels import VOID
from facts.spec import stride_padding

CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")


def output_size(width, height, target_height):
    """(width, height) after resizing to `target_height`, the way torchvision's Resize(int) rounds."""
    if height <= width:
        return int(target_height * width / height), target_height
    return target_height, int(target_height * height / width)


def resize_pair(image, label, size):
    """Resize to size=(width, height): image bilinear (Pillow, antialiased), label nearest."""
    if image.shape[1::-1] == tuple(size):
        return image, label
    image = np.asarray(Image.fromarray(image).resize(size, Image.BILINEAR))
    label = np.asarray(Image.fromarray(label).resize(size, Image.NEAREST))
    return image, label


def pad_pair_to_stride(image, label, void=VOID):
    """Image and label grown at the bottom and right to multiples of ERFNet's stride (facts.spec.stride_padding),
    the image by repeating its edge pixels (as eval.predict pads for inference), the label with void, which
    weighs 0 in the loss: any image size trains, and sizes already multiples of 8 are returned as they are."""
    rows, columns = stride_padding(*label.shape)
    if not rows and not columns:
        return image, label
    image = np.pad(image, ((0, rows), (0, columns), (0, 0)), mode="edge")
    return image, np.pad(label, ((0, rows), (0, columns)), constant_values=void)


def encoder_label(label, height):
    """The label nearest-downsampled for encoder-only training: height `height // 8`, as erfnet_pytorch."""
    size = output_size(label.shape[1], label.shape[0], height // 8)
    return np.asarray(Image.fromarray(label).resize(size, Image.NEAREST))


def gaussian_blur(image, radius):
    """A true Gaussian blur with standard deviation `radius` (MindSpore C++), kernel covering 3 sigma."""
    if radius <= 0:
        return image
    import mindspore.dataset.vision as vision
    return vision.GaussianBlur(2 * math.ceil(3 * radius) + 1, radius)(image)


def flip_pair(image, label):
    return image[:, ::-1], label[:, ::-1]


def shift_pair(image, label, shift_x, shift_y, void=VOID):
    """Move content right by shift_x and down by shift_y; exposed image area 0, exposed label area void."""
    height, width = label.shape
    shifted_image = np.zeros_like(image)
    shifted_label = np.full_like(label, void)
    dst_x, src_x = slice(max(shift_x, 0), width + min(shift_x, 0)), slice(max(-shift_x, 0), width - max(shift_x, 0))
    dst_y, src_y = slice(max(shift_y, 0), height + min(shift_y, 0)), slice(max(-shift_y, 0), height - max(shift_y, 0))
    shifted_image[dst_y, dst_x] = image[src_y, src_x]
    shifted_label[dst_y, dst_x] = label[src_y, src_x]
    return shifted_image, shifted_label


def corner_crop_box(width, height, ratio, corner):
    """The (left, top, right, bottom) box of size (int(W/r), int(H/r)) at one of the four corners."""
    crop_w, crop_h = int(width / ratio), int(height / ratio)
    left = 0 if corner in (0, 2) else width - crop_w
    top = 0 if corner in (0, 1) else height - crop_h
    return left, top, left + crop_w, top + crop_h


class _Params:
    """Random parameters that travel through the pipeline as a float64 vector."""

    def to_vector(self):
        return np.array(astuple(self), dtype=np.float64)

    @classmethod
    def from_vector(cls, vector):
        return cls(*(kind(value) for kind, value in zip(cls.__annotations__.values(), vector)))


@dataclass(frozen=True)
class PytorchParams(_Params):
    flip: bool
    shift_x: int
    shift_y: int


@dataclass(frozen=True)
class ZooParams(_Params):
    blur_radius: float
    crop: bool
    crop_ratio: float
    corner: int
    flip: bool


@dataclass(frozen=True)
class NoParams(_Params):
    pass


class ValRecipe:
    """Resize to height H only (evaluation)."""
    name = "val"
    params_type = NoParams

    def __init__(self, height=512, void=VOID):
        self.height, self.void = height, void

    def draw(self, rng):
        return NoParams()

    def resize(self, image, label):
        return resize_pair(image, label, output_size(label.shape[1], label.shape[0], self.height))

    def augment(self, image, label, params):
        return image, label

    def apply(self, image, label, params):
        return self.augment(*self.resize(image, label), params)


class PytorchRecipe(ValRecipe):
    """erfnet_pytorch's training augmentation; `resize` is its deterministic first step (cacheable)."""
    name = "pytorch"
    params_type = PytorchParams

    def __init__(self, height=512, flip_p=0.5, max_shift=2, void=VOID):
        super().__init__(height, void)
        self.flip_p, self.max_shift = flip_p, max_shift

    def draw(self, rng):
        return PytorchParams(flip=bool(rng.random() < self.flip_p),
                             shift_x=int(rng.integers(-self.max_shift, self.max_shift + 1)),
                             shift_y=int(rng.integers(-self.max_shift, self.max_shift + 1)))

    def augment(self, image, label, params):
        if params.flip:
            image, label = flip_pair(image, label)
        return shift_pair(image, label, params.shift_x, params.shift_y, self.void)


class ZooRecipe:
    """The MindSpore model-zoo augmentation. `crop_ratio` is a float (fixed) or a (low, high) pair."""
    name = "zoo"
    params_type = ZooParams

    def __init__(self, height=512, crop_ratio=1.2, crop_p=0.5, flip_p=0.5, max_blur=1.0, void=VOID):
        self.height, self.crop_p, self.flip_p, self.max_blur = height, crop_p, flip_p, max_blur
        self.void = void  # crops stay inside the image: nothing is ever filled
        low, high = (crop_ratio, crop_ratio) if np.isscalar(crop_ratio) else crop_ratio
        if not 1.0 <= low <= high:
            raise ValueError(f"crop ratio {crop_ratio}: need 1 <= low <= high")
        self.crop_ratio = (float(low), float(high))

    def draw(self, rng):
        low, high = self.crop_ratio
        return ZooParams(blur_radius=float(rng.uniform(0.0, self.max_blur)),
                         crop=bool(rng.random() < self.crop_p),
                         crop_ratio=float(rng.uniform(low, high)) if high > low else low,
                         corner=int(rng.integers(len(CORNERS))),
                         flip=bool(rng.random() < self.flip_p))

    def apply(self, image, label, params):
        height, width = label.shape
        size = output_size(width, height, self.height)
        picture = Image.fromarray(gaussian_blur(image, params.blur_radius))
        label_picture = Image.fromarray(label)
        if params.crop:
            box = corner_crop_box(width, height, params.crop_ratio, params.corner)
            picture, label_picture = picture.crop(box), label_picture.crop(box)
        image = np.asarray(picture.resize(size, Image.BILINEAR))
        label = np.asarray(label_picture.resize(size, Image.NEAREST))
        if params.flip:
            image, label = flip_pair(image, label)
        return image, label


RECIPES = {recipe.name: recipe for recipe in (PytorchRecipe, ZooRecipe, ValRecipe)}
TRAINING_RECIPES = (ZooRecipe.name, PytorchRecipe.name)


def make_recipe(name, height=512, **options):
    """A recipe by name ("pytorch", "zoo", "val") with its parameters (see each class)."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}: choose one of {', '.join(RECIPES)}")
    return RECIPES[name](height=height, **options)
