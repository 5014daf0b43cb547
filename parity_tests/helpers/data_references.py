"""The independent references the data tests compare against: label ids mapped with cityscapesscripts'
dictionaries, PNGs read with Pillow, and both recipes written with Pillow the way the reference code does."""
import numpy as np
from PIL import Image, ImageFilter, ImageOps
from cityscapesscripts.helpers.labels import id2label


def reference_train_ids(label_ids):
    """trainIds 0..19 from label ids, one dictionary look-up per distinct id (independent of train.data)."""
    out = np.empty(label_ids.shape, dtype=np.uint8)
    for value in np.unique(label_ids):
        train_id = id2label[int(value)].trainId
        out[label_ids == value] = 19 if train_id in (255, -1) else train_id
    return out


def png(path):
    with Image.open(path) as image:
        return np.asarray(image)


def as_arrays(image, label):
    """Pillow pictures to (uint8 HWC, uint8 HW with 255 -> 19), as ToTensor/ToLabel/Relabel(255, 19)."""
    label = np.asarray(label)
    return np.asarray(image), np.where(label == 255, 19, label)


def reference_pytorch(image, label, params, height):
    """erfnet_pytorch's MyCoTransform with its label fill fixed to 255 for negative shifts too."""
    size = (int(height * image.width / image.height), height)
    image, label = image.resize(size, Image.BILINEAR), label.resize(size, Image.NEAREST)
    if params.flip:
        image, label = image.transpose(Image.FLIP_LEFT_RIGHT), label.transpose(Image.FLIP_LEFT_RIGHT)
    shifted_image, shifted_label = Image.new("RGB", size, 0), Image.new("L", size, 255)
    shifted_image.paste(image, (params.shift_x, params.shift_y))
    shifted_label.paste(label, (params.shift_x, params.shift_y))
    return shifted_image, shifted_label


def reference_zoo(image, label, params, height):
    """The model zoo's recipe in Pillow: blur, corner crop of (W/r, H/r), resize, mirror."""
    size = (int(height * image.width / image.height), height)
    image = image.filter(ImageFilter.GaussianBlur(params.blur_radius))
    if params.crop:
        w, h = int(image.width / params.crop_ratio), int(image.height / params.crop_ratio)
        left = image.width - w if params.corner in (1, 3) else 0
        top = image.height - h if params.corner in (2, 3) else 0
        image, label = image.crop((left, top, left + w, top + h)), label.crop((left, top, left + w, top + h))
    image, label = image.resize(size, Image.BILINEAR), label.resize(size, Image.NEAREST)
    if params.flip:
        image, label = ImageOps.mirror(image), ImageOps.mirror(label)
    return image, label
