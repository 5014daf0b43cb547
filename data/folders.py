"""The plain folder layout for one's own data: find image/label pairs by stem, check them, read them as arrays.

    ROOT/classes.yaml              names: [road, lane, car, ...]  (in id order)
                                   colours: [[128, 64, 128], ...] (optional, one RGB triple per class)
    ROOT/images/<split>/...<stem>.png|.jpg|.jpeg
    ROOT/labels/<split>/...<stem>.png   single-channel PNG of class ids 0..K-1, 255 = ignored

Sub-folders below <split> are allowed; an image pairs with the label of the same path and stem. Labels are read
as the pipeline's label space (data/layout.py): ids 0..K-1 stay, 255 becomes K (ignored); any other value is an
error naming the file.
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from data.cityscapes import check_pair, read_label_ids, read_pair, usable_samples
from facts.errors import BadSample, UserError

CLASSES_FILE = "classes.yaml"
IMAGES, LABELS = "images", "labels"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
LABEL_SUFFIX = ".png"
IGNORE_ID = 255


@dataclass(frozen=True)
class Classes:
    """A dataset's classes: names in id order, and their colours (uint8 RGB triples) when classes.yaml gives them."""
    names: tuple
    colours: tuple = None


def _fail(path, field, message):
    raise UserError(f"{path}: {field}: {message}")


def read_classes(path):
    """The Classes of a classes.yaml (a file, or the dataset root holding one); UserError naming the field."""
    path = Path(path)
    if path.is_dir():
        path = path / CLASSES_FILE
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as error:
        raise UserError(f"{path}: cannot read it ({error.strerror or error})") from None
    except yaml.YAMLError as error:
        raise UserError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None
    if not isinstance(data, dict) or "names" not in data:
        _fail(path, "names", "missing: give the class names in id order (names: [road, car, ...])")
    unknown = sorted(set(data) - {"names", "colours"})
    if unknown:
        _fail(path, unknown[0], "unknown field (known: names, colours)")
    names = data["names"]
    if not isinstance(names, list) or not all(isinstance(name, str) and name for name in names):
        _fail(path, "names", "must be a list of non-empty strings")
    if not 2 <= len(names) <= IGNORE_ID:
        _fail(path, "names", f"{len(names)} classes: need 2 to {IGNORE_ID} (id {IGNORE_ID} marks ignored pixels)")
    if len(set(names)) != len(names):
        _fail(path, "names", f"{sorted({n for n in names if names.count(n) > 1})[0]!r} appears twice")
    colours = data.get("colours")
    if colours is not None:
        if not isinstance(colours, list) or len(colours) != len(names) or not all(
                isinstance(c, list) and len(c) == 3 and all(isinstance(v, int) and 0 <= v <= 255 for v in c)
                for c in colours):
            _fail(path, "colours", f"must be {len(names)} RGB triples of integers 0..255, one per name")
        colours = tuple(tuple(colour) for colour in colours)
    return Classes(tuple(names), colours)


@dataclass(frozen=True)
class Sample:
    """One image/label pair; `stem` is the path below <split> without suffix (pairs are keyed by it)."""
    stem: str
    split: str
    image_path: Path
    label_path: Path
    num_classes: int

    @property
    def relative_path(self):
        return f"{self.split}/{Path(self.stem).with_suffix(self.image_path.suffix)}"


def read_label(sample):
    """The label as uint8 [H, W]: ids 0..K-1, ignored pixels (255 in the file) K; BadSample names the file on any
    other value, a multi-channel picture or an unreadable file."""
    raw = read_label_ids(sample.label_path)
    count = sample.num_classes
    bad = np.unique(raw[(raw >= count) & (raw != IGNORE_ID)]) if raw.size else raw
    if bad.size:
        raise BadSample(f"{sample.label_path}: class ids {bad[:10].tolist()} outside 0..{count - 1} "
                        f"({CLASSES_FILE} names {count} classes) and not {IGNORE_ID} (ignored)")
    label = raw.astype(np.uint8)
    label[raw == IGNORE_ID] = count
    return label


def read_sample(sample):
    """(image uint8 [H, W, 3], label uint8 [H, W] in 0..K), with a size check naming both files."""
    return read_pair(sample, read_label)


def check_sample(sample, verify=True, decode_label=False):
    """check_pair with this layout's labels (ids outside 0..K-1 and 255 are refused)."""
    check_pair(sample, read_label, verify, decode_label)


def _files(folder, suffixes):
    """{stem (path below `folder` without suffix): path}, and the stems found twice (a.png beside a.jpg)."""
    found, twice = {}, []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix.lower() in suffixes:
            stem = path.relative_to(folder).with_suffix("").as_posix()
            if stem in found:
                twice.append(f"{path}: a second file for {found[stem]}'s stem")
            found[stem] = path
    return found, twice


def find_samples(root, split, skip_bad=False, verify=True, decode_labels=False):
    """The split's samples sorted by stem, with data.cityscapes.find_samples' checks, options and errors."""
    root = Path(root)
    classes = read_classes(root)
    image_dir, label_dir = root / IMAGES / split, root / LABELS / split
    if not image_dir.is_dir():
        raise UserError(f"{image_dir}: no such folder (expected {IMAGES}/{split}/ and {LABELS}/{split}/ in {root})")
    images, problems = _files(image_dir, IMAGE_SUFFIXES)
    label_files, twice = _files(label_dir, (LABEL_SUFFIX,))
    problems += twice
    samples = []
    for stem, image in images.items():
        if stem not in label_files:
            problems.append(f"{image}: no label (expected {label_dir / stem}{LABEL_SUFFIX})")
            continue
        samples.append(Sample(stem, split, image, label_files[stem], len(classes.names)))
    problems += [f"{label_files[stem]}: no image (expected {image_dir / stem} with one of "
                 f"{', '.join(IMAGE_SUFFIXES)})" for stem in sorted(set(label_files) - set(images))]
    return usable_samples(samples, problems, check_sample, image_dir, split, skip_bad, verify, decode_labels)
