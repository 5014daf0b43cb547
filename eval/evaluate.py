"""Scoring a MindSpore ERFNet on a Cityscapes split, under one of two protocols.

- `pytorch` (erfnet_pytorch, the model zoo's port): inference at height H, labels nearest-resized to H.
- `full` (the paper, the official evaluator): inference at height H, predictions brought back to each label
  file's own resolution (eval.predict.native_class_map) and scored there.

The weighted loss is always measured at height H with the training loss (ms_erfnet.loss, "full" class weights),
as the weighted mean over all pixels of the split (not a mean of batch means, which would depend on the
batch size). images/s is end to end: reading, resizing, inference and scoring.
"""
import time
from dataclasses import dataclass

import ms_erfnet  # noqa: F401  (caps oneDNN before any MindSpore kernel runs)
import mindspore as ms
import numpy as np

from data.cityscapes import find_samples
from data.pipeline import dataset_rows, make_dataset
from eval import metrics
from eval.predict import class_map, logits, native_class_map
from facts.errors import UserError
from facts.labels import NUM_CLASSES, VOID
from facts.progress import progress
from facts.spec import check_size, class_weights
from ms_erfnet.loss import WeightedCrossEntropy

PROTOCOLS = ("pytorch", "full")
LOSS_WEIGHTS = "full"


@dataclass
class EvalResult:
    """Scores of one evaluation. iou_class: float64 [19] by trainId (NaN: class absent from ground truth and
    predictions); confusion: int64 [19, 20] (eval.metrics)."""
    confusion: np.ndarray
    mean_loss: float
    images: int
    seconds: float
    protocol: str
    height: int

    @property
    def iou_class(self):
        return metrics.class_iou(self.confusion)

    @property
    def mean_iou(self):
        return metrics.mean_iou(self.confusion)

    @property
    def images_per_second(self):
        return self.images / self.seconds if self.seconds > 0 else float("inf")


def _check(net, protocol, height, batch_size):
    if protocol not in PROTOCOLS:
        raise UserError(f"protocol {protocol!r}: choose one of {', '.join(PROTOCOLS)}")
    check_size("height", height)
    if batch_size < 1:
        raise UserError(f"batch size {batch_size}: must be at least 1")
    if net.num_classes != NUM_CLASSES:
        raise UserError(f"the network has {net.num_classes} classes; Cityscapes evaluation needs {NUM_CLASSES} "
                        f"(19 trainIds and void)")


def evaluate(net, data_root, split="val", height=512, protocol="pytorch", batch_size=1, num_workers=2,
             quiet=False, skip_bad=False):
    """Score `net` (a built MindSpore ERFNet with its weights) on `split` of the Cityscapes root `data_root`.

    Returns an EvalResult. The network is put in inference mode and given back in the mode it came in.
    A progress bar unless `quiet`. `skip_bad`: unusable samples are named on stderr and left out.
    """
    _check(net, protocol, height, batch_size)
    full = protocol == "full"
    data = make_dataset(data_root, split, recipe="val", height=height, batch_size=batch_size,
                        num_workers=num_workers, with_meta=full, python_multiprocessing=False, skip_bad=skip_bad)
    # without skip_bad a truncated file is named here, before any work; with it the dataset checks and names them
    total = len(find_samples(data_root, split, skip_bad=skip_bad, verify=not skip_bad))
    loss_cell = WeightedCrossEntropy(LOSS_WEIGHTS)
    weights = np.array(class_weights(LOSS_WEIGHTS), dtype=np.float64)
    confusion = np.zeros((VOID, VOID + 1), dtype=np.int64)
    loss_sum = weight_sum = 0.0
    images = 0
    was_training = net.training
    net.set_train(False)
    start = time.perf_counter()
    try:
        with progress(total, f"eval {split}", disable=quiet) as bar:
            for row in dataset_rows(data):
                scores = logits(net, row["image"])
                label = row["label"]
                batch_weight = float(weights[label].sum())
                if batch_weight > 0:  # an all-void batch has no loss (its weighted mean would be 0 / 0)
                    loss_sum += float(loss_cell(scores, ms.Tensor(label)).asnumpy()) * batch_weight
                    weight_sum += batch_weight
                if full:
                    truth = row["native_label"]
                    prediction = native_class_map(scores, truth.shape[1:])
                else:
                    truth, prediction = label, class_map(scores)
                confusion += metrics.confusion_matrix(prediction, truth)
                images += len(label)
                bar.update(len(label))
    finally:
        net.set_train(was_training)
    mean_loss = loss_sum / weight_sum if weight_sum > 0 else float("nan")
    return EvalResult(confusion, mean_loss, images, time.perf_counter() - start, protocol, height)
