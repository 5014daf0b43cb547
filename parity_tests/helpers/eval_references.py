"""An independent reading of what evaluation should compute (Pillow resizing, cityscapesscripts label table,
PyTorch interpolation and loss, per-class pixel masks), shared by the eval/infer tests."""
import numpy as np
import torch
from PIL import Image

from facts.spec import class_weights
from helpers.data_references import png, reference_train_ids

VOID = 19


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
