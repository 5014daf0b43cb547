"""A Cityscapes root read as erfnet_pytorch reads it: `leftImg8bit/<split>/<city>/<stem>_leftImg8bit.png`
with `gtFine/<split>/<city>/<stem>_gtFine_labelTrainIds.png`, paired by city and stem (torch_ref/pictures.py).
"""
from pathlib import Path

from torch_ref.pictures import matched_pairs

IMAGE_SUFFIX = "_leftImg8bit.png"
LABEL_SUFFIX = "_gtFine_labelTrainIds.png"


def _by_stem(folder, suffix):
    """`<city>/<stem>` -> path for every file under `folder` whose name ends with `suffix`."""
    return {str(path.relative_to(folder))[:-len(suffix)]: path for path in folder.rglob(f"*{suffix}")}


def cityscapes_pairs(root, split):
    """(image path, label path) of every image of `split`, in the order of the sorted image paths."""
    image_folder = Path(root) / "leftImg8bit" / split
    label_folder = Path(root) / "gtFine" / split
    images = _by_stem(image_folder, IMAGE_SUFFIX)
    if not images:
        raise FileNotFoundError(f"no *{IMAGE_SUFFIX} under {image_folder}")
    return matched_pairs(images, _by_stem(label_folder, LABEL_SUFFIX), split,
                         lambda stem: f"{label_folder / stem}{LABEL_SUFFIX}",
                         lambda stem: f"{image_folder / stem}{IMAGE_SUFFIX}")
