"""Segmentation scores as the official Cityscapes evaluator computes them, from a confusion matrix.

The matrix has one row per evaluated class (trainIds 0..18, ground truth) and one column per predicted
class plus a last column for the void prediction (trainId 19): void ground truth is left out, and a void
prediction on a valid pixel is a miss of that pixel's class (counted in its row, in no class's column).
It is built with one bincount in int64, so a whole Cityscapes split cannot overflow it.
"""
import numpy as np

from facts.labels import VOID


def confusion_matrix(prediction, label, num_classes=VOID):
    """int64 [num_classes, num_classes + 1]: entry [g, p] counts pixels of ground truth g predicted as p,
    column num_classes holding void predictions. Inputs are trainId arrays of one shape with values in
    0..num_classes (num_classes = void); void ground truth is ignored."""
    prediction, label = np.asarray(prediction), np.asarray(label)
    if prediction.shape != label.shape:
        raise ValueError(f"prediction shape {prediction.shape} differs from label shape {label.shape}")
    for name, array in (("prediction", prediction), ("label", label)):
        if array.size and (array.min() < 0 or array.max() > num_classes):
            raise ValueError(f"{name} values must be in 0..{num_classes}, found {array.min()}..{array.max()}")
    valid = label < num_classes
    columns = num_classes + 1
    cells = label[valid].astype(np.int64) * columns + prediction[valid].astype(np.int64)
    return np.bincount(cells, minlength=num_classes * columns).reshape(num_classes, columns)


def class_iou(confusion):
    """IoU = TP / (TP + FP + FN) per class, float64; NaN for a class absent from both the ground truth and
    the predictions (the official evaluator's rule)."""
    confusion = np.asarray(confusion, dtype=np.int64)
    num_classes = confusion.shape[0]
    true_positive = np.diag(confusion[:, :num_classes])
    false_negative = confusion.sum(axis=1) - true_positive
    false_positive = confusion[:, :num_classes].sum(axis=0) - true_positive
    union = true_positive + false_positive + false_negative
    return np.where(union > 0, true_positive / np.maximum(union, 1), np.nan)


def mean_iou(confusion):
    """The mean of the defined class IoUs (NaN if none is defined)."""
    iou = class_iou(confusion)
    return float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan")
