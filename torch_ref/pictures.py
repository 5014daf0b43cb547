"""Image/label pairs read as erfnet_pytorch's dataset classes read theirs: item i is `transform(image, label)` of
the i-th pair, the image converted to RGB and the label to 'P' (its class ids as stored). The pairs come from a
layout's reader (torch_ref/cityscapes.py, torch_ref/folders.py), which keys both sides by stem.

One allowed deviation: erfnet_pytorch pairs the sorted list of images with the sorted list of labels by
position, so a missing file silently shifts every later pair; here they are paired by stem, and a file without
its partner is an error naming it.
"""
from PIL import Image
from torch.utils.data import Dataset


def matched_pairs(images, labels, split, expected_label, expected_image):
    """(image path, label path) of every image in `images` ({stem: path}), in the order of the image paths, with
    its label of the same stem in `labels`. FileNotFoundError names the first file without its partner and where
    the partner was looked for (`expected_label(stem)`, `expected_image(stem)`: text)."""
    unlabelled = sorted(set(images) - set(labels))
    if unlabelled:
        raise FileNotFoundError(f"{len(unlabelled)} image(s) of {split} have no label, first "
                                f"{images[unlabelled[0]]}: expected {expected_label(unlabelled[0])}")
    orphans = sorted(set(labels) - set(images))
    if orphans:
        raise FileNotFoundError(f"{len(orphans)} label(s) of {split} have no image, first "
                                f"{labels[orphans[0]]}: expected {expected_image(orphans[0])}")
    return [(images[stem], labels[stem]) for stem in sorted(images, key=lambda stem: images[stem])]


class PairDataset(Dataset):
    """erfnet_pytorch's `cityscapes(root, co_transform, subset)` over any list of (image path, label path)."""

    def __init__(self, pairs, transform):
        self.pairs = pairs
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
