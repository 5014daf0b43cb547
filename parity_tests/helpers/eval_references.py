"""Shared pieces of the eval/infer/export tests: weight files written once per session, and an independent
reading of what evaluation should compute (Pillow resizing, cityscapesscripts label table, PyTorch
interpolation and loss, per-class pixel masks)."""
import numpy as np
import pytest
import torch
from PIL import Image

from convert import read_weights, write_weights
from data_fixtures import png, reference_train_ids
from facts.spec import class_weights
from torch_ref.random_weights import random_reference_net

SEED = 3
VOID = 19
_FILES = {}


@pytest.fixture(scope="session")
def weight_files(tmp_path_factory):
    """{"torch": .pth of random_reference_net(20, SEED), "zoo": the same weights as a zoo-aligned .ckpt,
    "other": a .pth with another seed, "encoder": an encoder-only .pth}. Treat them as read-only."""
    if not _FILES:
        folder = tmp_path_factory.mktemp("weights")
        net = random_reference_net(20, SEED)
        torch.save(net.state_dict(), folder / "erfnet.pth")
        torch.save(random_reference_net(20, SEED + 1).state_dict(), folder / "other.pth")
        encoder = {key: value for key, value in net.state_dict().items() if key.startswith("encoder.")}
        torch.save(encoder, folder / "encoder.pth")
        weights = read_weights(folder / "erfnet.pth")
        weights.upsample_align = "zoo"
        write_weights(weights, folder / "zoo.ckpt")
        _FILES.update(torch=folder / "erfnet.pth", zoo=folder / "zoo.ckpt", other=folder / "other.pth",
                      encoder=folder / "encoder.pth")
    return dict(_FILES)


def reference_input(image_path, height):
    """float32 [1, 3, H, W] in [0, 1]: Pillow's bilinear resize to height H, width rounded down."""
    with Image.open(image_path) as image:
        photo = image.convert("RGB")
    width = int(height * photo.width / photo.height)
    return (np.asarray(photo.resize((width, height), Image.BILINEAR), dtype=np.float32) / 255).transpose(2, 0, 1)[None]


def reference_label(label_ids_path, height=None):
    """trainIds from the labelIds PNG (cityscapesscripts' table), nearest-resized to height H if given."""
    label = reference_train_ids(png(label_ids_path))
    if height is None:
        return label
    width = int(height * label.shape[1] / label.shape[0])
    return np.asarray(Image.fromarray(label).resize((width, height), Image.NEAREST))


def upsampled_prediction(logits, size):
    """argmax of the logits upsampled bilinearly (half-pixel centres) to size=(h, w), by PyTorch in float64."""
    scores = torch.nn.functional.interpolate(torch.from_numpy(np.asarray(logits, np.float64)), size=size,
                                             mode="bilinear", align_corners=False)
    return scores.argmax(1).numpy().astype(np.uint8)


def weighted_loss_terms(logits, label):
    """(sum of w[y] * nll, sum of w[y]) over the pixels, PyTorch's cross entropy with the "full" weights."""
    weight = torch.tensor(class_weights("full"), dtype=torch.float64)
    target = torch.from_numpy(np.asarray(label, np.int64))
    total = torch.nn.functional.cross_entropy(torch.from_numpy(np.asarray(logits, np.float64)), target,
                                              weight=weight, reduction="sum")
    return float(total), float(weight[target].sum())


def counts_by_masks(prediction, label):
    """(TP, FP, FN) per class 0..18 from pixel masks; void ground truth ignored, void prediction a miss."""
    valid = label != VOID
    tp = np.array([np.sum((prediction == c) & (label == c)) for c in range(VOID)])
    fp = np.array([np.sum((prediction == c) & (label != c) & valid) for c in range(VOID)])
    fn = np.array([np.sum((prediction != c) & (label == c)) for c in range(VOID)])
    return tp, fp, fn


def iou_from_counts(tp, fp, fn):
    union = tp + fp + fn
    return np.where(union > 0, tp / np.maximum(union, 1), np.nan)
