"""Scoring the PyTorch reference model during training as MindSpore's training scores itself: the same val
arrays (this project's val pipeline, data.pipeline.make_dataset with the `val` recipe, labels nearest-resized
to the validation height: the `pytorch` protocol, of either layout) fed to the torch model, the same confusion
matrix over the data's classes and mIoU (eval.metrics). An encoder stage is scored as train.validate scores it:
its 1/8 scores upsampled bilinearly (half-pixel centres) to the input size before the argmax.
"""
import numpy as np
import torch
import torch.nn.functional as F

from data.layout import label_space
from data.pipeline import make_dataset
from eval import metrics


def reference_predictions(model, images, network):
    """Class ids uint8 [B, H, W] of the torch model (in eval mode) for float32 images [B, 3, H, W]."""
    with torch.no_grad():
        batch = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
        if network == "encoder":
            scores = F.interpolate(model(batch, only_encode=True), size=tuple(batch.shape[2:]), mode="bilinear",
                                   align_corners=False)
        else:
            scores = model(batch)
    return scores.argmax(1).numpy().astype(np.uint8)


def reference_confusion(model, network, data_root, height, batch_size, workers):
    """The confusion matrix (eval.metrics, [K, K + 1] for the data's K classes) of the torch model on the val split
    at `height`."""
    classes = label_space(data_root).void
    data = make_dataset(data_root, "val", recipe="val", height=height, batch_size=batch_size, num_workers=workers)
    confusion = np.zeros((classes, classes + 1), dtype=np.int64)
    for row in data.create_dict_iterator(num_epochs=1, output_numpy=True):
        confusion += metrics.confusion_matrix(reference_predictions(model, row["image"], network), row["label"],
                                              classes)
    return confusion


def reference_val_miou(model, network, data_root, height, batch_size, workers):
    """The val mIoU of the torch model, as MindSpore's validation measures its own."""
    return metrics.mean_iou(reference_confusion(model, network, data_root, height, batch_size, workers))
