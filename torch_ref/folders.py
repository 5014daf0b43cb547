"""A folders dataset (one's own data) read for the reference: `images/<split>/.../<stem>.png|.jpg|.jpeg` with
`labels/<split>/.../<stem>.png`, a single-channel picture of class ids 0..K-1 and 255 for ignored pixels; an
image pairs with the label of the same path below <split> and stem (torch_ref/pictures.py).
"""
from pathlib import Path

from torch_ref.pictures import matched_pairs

IMAGES, LABELS = "images", "labels"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
LABEL_SUFFIX = ".png"


def _by_stem(folder, suffixes):
    """`<sub-folders>/<stem>` -> path for every file under `folder` with one of `suffixes` (in any case)."""
    return {path.relative_to(folder).with_suffix("").as_posix(): path for path in sorted(folder.rglob("*"))
            if path.is_file() and path.suffix.lower() in suffixes}


def folders_pairs(root, split):
    """(image path, label path) of every image of `split`, in the order of the sorted image paths."""
    image_folder = Path(root) / IMAGES / split
    label_folder = Path(root) / LABELS / split
    images = _by_stem(image_folder, IMAGE_SUFFIXES)
    if not images:
        raise FileNotFoundError(f"no image ({', '.join(IMAGE_SUFFIXES)}) under {image_folder}")
    return matched_pairs(images, _by_stem(label_folder, (LABEL_SUFFIX,)), split,
                         lambda stem: f"{label_folder / stem}{LABEL_SUFFIX}",
                         lambda stem: f"{image_folder / stem} with one of {', '.join(IMAGE_SUFFIXES)}")
