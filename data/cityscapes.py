"""The Cityscapes layout: find image/label pairs by stem, check them, and read them as arrays.

`<root>/leftImg8bit/<split>/<city>/<stem>_leftImg8bit.png` pairs with
`<root>/gtFine/<split>/<city>/<stem>_gtFine_labelTrainIds.png`, or with `..._gtFine_labelIds.png` (mapped
through the official label table) when the trainIds file is absent. Pairing is by stem, never by position.
"""
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from facts import labels
from facts.errors import BadSample, UserError

log = logging.getLogger(__name__)

IMAGE_SUFFIX = "_leftImg8bit.png"
EXIF_ORIENTATION = 0x0112  # 1: stored as shown; 2-8: shown mirrored and/or turned by a multiple of 90 degrees
TURNED_SIDEWAYS = (5, 6, 7, 8)  # orientations that exchange width and height
LABEL_KINDS = ("labelTrainIds", "labelIds")


def label_name(stem, kind):
    return f"{stem}_gtFine_{kind}.png"


@dataclass(frozen=True)
class Sample:
    """One image/label pair. `label_kind` is "labelTrainIds" or "labelIds"."""
    stem: str
    city: str
    split: str
    image_path: Path
    label_path: Path
    label_kind: str

    @property
    def relative_path(self):
        """The image's path below leftImg8bit, e.g. `val/frankfurt/frankfurt_000000_000294_leftImg8bit.png`."""
        return f"{self.split}/{self.city}/{self.stem}{IMAGE_SUFFIX}"


def orientation(image):
    """The EXIF orientation of an opened Pillow image (1 when it has none). Read only from EXIF found while
    opening (a JPEG's APP1, a PNG's eXIf chunk before its pixels): asking Pillow for more decodes a PNG whole."""
    return image.getexif().get(EXIF_ORIENTATION, 1) if "exif" in image.info else 1


def open_checked(path, verify):
    """Open an image and return its size as shown (EXIF orientation applied); with `verify` also check every
    chunk's CRC to the end of the file, which finds truncated and corrupted files without decoding pixels."""
    try:
        with Image.open(path) as image:
            size = image.size[::-1] if orientation(image) in TURNED_SIDEWAYS else image.size
            if verify:
                image.verify()
    except Exception as error:
        raise BadSample(f"{path}: unreadable image ({error.__class__.__name__}: {error})") from None
    return size


def read_image(path):
    """The image as uint8 [H, W, 3] RGB, the way it is shown, decoded by Pillow, whose decoders release the GIL
    (MindSpore's Decode gives the same pixels but keeps the GIL, which capped thread workers at one decode at a
    time: docs/data-throughput.md). A photo whose EXIF orientation says it is stored turned or mirrored (phones
    store photos so) is turned upright (ImageOps.exif_transpose), so predictions lie over the picture the user
    sees. 16-bit grey images keep their high byte, as MindSpore's Decode does. BadSample names the file if it
    cannot be decoded."""
    try:
        with Image.open(path) as image:
            if orientation(image) != 1:
                return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
            if image.mode.startswith("I;16"):
                grey = (np.asarray(image).astype(np.uint16) >> 8).astype(np.uint8)
                return np.repeat(grey[..., None], 3, axis=2)
            return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
    except Exception:
        raise BadSample(f"{path}: cannot decode the image (missing, truncated, corrupted or not an image)") from None


def read_label_ids(path):
    """A label file's single-channel id array as stored; BadSample names the file if it is unreadable or has
    several channels."""
    try:
        with Image.open(path) as image:
            raw = np.asarray(image)
    except Exception as error:
        raise BadSample(f"{path}: unreadable label ({error.__class__.__name__}: {error})") from None
    if raw.ndim != 2:
        raise BadSample(f"{path}: label must be a single-channel PNG of class ids, got shape {raw.shape}")
    return raw


def read_label(sample):
    """The label as uint8 [H, W] trainIds 0..19 (19 = void); BadSample names the file on any problem."""
    raw = read_label_ids(sample.label_path)
    convert = labels.label_ids_to_train_ids if sample.label_kind == "labelIds" else labels.train_id_file_to_train_ids
    try:
        return convert(raw)
    except ValueError as error:
        raise BadSample(f"{sample.label_path}: {error}") from None


def read_pair(sample, read_label):
    """(image uint8 [H, W, 3], label uint8 [H, W]) of a layout's sample, the label read by the layout's
    `read_label`; a size mismatch names both files."""
    image, label = read_image(sample.image_path), read_label(sample)
    if image.shape[:2] != label.shape:
        raise BadSample(f"{sample.label_path}: size {label.shape[::-1]} differs from its image "
                        f"{sample.image_path} {image.shape[1::-1]}")
    return image, label


def check_pair(sample, read_label, verify=True, decode_label=False):
    """Raise BadSample if a layout's pair is unusable: unreadable header or image/label size mismatch; with
    `verify` also a truncated or corrupted file (reads the files, decodes nothing); with `decode_label` also
    what the layout's `read_label` refuses."""
    image_size = open_checked(sample.image_path, verify)
    label_size = open_checked(sample.label_path, verify)
    if image_size != label_size:
        raise BadSample(f"{sample.label_path}: size {label_size} differs from its image "
                        f"{sample.image_path} {image_size}")
    if decode_label:
        read_label(sample)


def read_sample(sample):
    """(image uint8 [H, W, 3], label uint8 [H, W] in 0..19), with a size check naming both files."""
    return read_pair(sample, read_label)


def check_sample(sample, verify=True, decode_label=False):
    """check_pair with Cityscapes' labels (values outside the table are refused)."""
    check_pair(sample, read_label, verify, decode_label)


def _pair(root, split):
    """Samples paired by stem plus the list of problems (files without a partner)."""
    image_dir, label_dir = root / "leftImg8bit" / split, root / "gtFine" / split
    images = {path.name[:-len(IMAGE_SUFFIX)]: path for path in image_dir.glob(f"*/*{IMAGE_SUFFIX}")}
    label_files = {kind: {path.name[:-len(label_name("", kind))]: path
                          for path in label_dir.glob(f"*/*{label_name('', kind)}")} for kind in LABEL_KINDS}
    samples, problems = [], []
    for stem in sorted(images):
        city = images[stem].parent.name
        kind = next((kind for kind in LABEL_KINDS if stem in label_files[kind]), None)
        if kind is None:
            expected = label_dir / city / label_name(stem, LABEL_KINDS[0])
            problems.append(f"{images[stem]}: no label (expected {expected} or ..._gtFine_labelIds.png)")
            continue
        label_path = label_files[kind][stem]
        if label_path.parent.name != city:
            problems.append(f"{label_path}: in city folder {label_path.parent.name!r}, its image is in {city!r}")
            continue
        samples.append(Sample(stem, city, split, images[stem], label_path, kind))
    for kind in LABEL_KINDS:
        for stem in sorted(set(label_files[kind]) - set(images)):
            problems.append(f"{label_files[kind][stem]}: no image (expected "
                            f"{image_dir / label_files[kind][stem].parent.name / (stem + IMAGE_SUFFIX)})")
    return samples, problems


def report_bad(message, skip_bad):
    """A bad sample stops the work (UserError) or, with `skip_bad`, is logged and left out."""
    if not skip_bad:
        raise BadSample(message)
    log.warning(f"skipping: {message}")


def usable_samples(samples, problems, check, image_dir, split, skip_bad, verify, decode_labels):
    """The samples `check` (a layout's check_sample) accepts; each of `problems` and each refused sample is one
    line naming the file (a UserError, or with `skip_bad` a report and the sample left out). A split left empty
    is a UserError naming `image_dir`."""
    for problem in problems:
        report_bad(problem, skip_bad)
    usable = []
    for sample in samples:
        try:
            check(sample, verify=verify, decode_label=decode_labels)
        except BadSample as error:
            report_bad(str(error), skip_bad)
            continue
        usable.append(sample)
    if not usable:
        raise UserError(f"{image_dir}: split {split!r} has no usable image/label pairs")
    return usable


def find_samples(root, split, skip_bad=False, verify=True, decode_labels=False):
    """The split's samples sorted by stem, each checked with `check_sample(verify, decode_labels)`.

    Raises UserError naming the file for a missing partner, an unreadable PNG or an image/label size
    mismatch, with `verify` a truncated or corrupted PNG, with `decode_labels` a label value outside the
    table; with `skip_bad` such samples are reported on stderr and left out instead. An empty split is always
    an error. Without `verify` and `decode_labels` only PNG headers are read (fast on the full dataset);
    `read_sample` still names a bad file when it meets one.
    """
    root = Path(root)
    image_dir = root / "leftImg8bit" / split
    if not image_dir.is_dir():
        raise UserError(f"{image_dir}: no such folder (expected a Cityscapes root with leftImg8bit/{split}/<city>/)")
    samples, problems = _pair(root, split)
    return usable_samples(samples, problems, check_sample, image_dir, split, skip_bad, verify, decode_labels)
