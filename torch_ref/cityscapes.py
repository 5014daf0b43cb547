"""A Cityscapes root read as erfnet_pytorch reads it: `leftImg8bit/<split>/<city>/<stem>_leftImg8bit.png`
with `gtFine/<split>/<city>/<stem>_gtFine_labelTrainIds.png`, images converted to RGB and labels to 'P'.

One allowed deviation: erfnet_pytorch pairs the sorted list of images with the sorted list of labels by
position, so a missing file silently shifts every later pair; here they are paired by city and stem, and
a file without its partner is an error.
"""
from pathlib import Path

from PIL import Image
from torch.utils.data import Dataset

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
    labels = _by_stem(label_folder, LABEL_SUFFIX)
    if not images:
        raise FileNotFoundError(f"no *{IMAGE_SUFFIX} under {image_folder}")
    unlabelled = sorted(set(images) - set(labels))
    if unlabelled:
        raise FileNotFoundError(f"{len(unlabelled)} image(s) of {split} have no label, first "
                                f"{images[unlabelled[0]]}: expected {label_folder / unlabelled[0]}{LABEL_SUFFIX}")
    orphans = sorted(set(labels) - set(images))
    if orphans:
        raise FileNotFoundError(f"{len(orphans)} label(s) of {split} have no image, first "
                                f"{labels[orphans[0]]}: expected {image_folder / orphans[0]}{IMAGE_SUFFIX}")
    return [(images[stem], labels[stem]) for stem in sorted(images, key=lambda stem: images[stem])]


class CityscapesDataset(Dataset):
    """erfnet_pytorch's `cityscapes(root, co_transform, subset)`: item i is `transform(image, label)` of
    the i-th pair."""

    def __init__(self, root, split, transform):
        self.pairs = cityscapes_pairs(root, split)
        self.transform = transform

    def __len__(self):
        return len(self.pairs)

    def __getitem__(self, index):
        image_path, label_path = self.pairs[index]
        with Image.open(image_path) as picture:
            image = picture.convert("RGB")
        with Image.open(label_path) as picture:
            label = picture.convert("P")
        return self.transform(image, label)
