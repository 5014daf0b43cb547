"""Scoring a MindSpore ERFNet on a split of a dataset in either layout (data/layout.py: Cityscapes' or one's own
folders, whose label space says which channel counts fit), under one of two protocols.

- `pytorch` (erfnet_pytorch, the model zoo's port): inference at height H, labels nearest-resized to H.
- `full` (the paper, the official evaluator): inference at height H, predictions brought back to each label
  file's own resolution (eval.predict.native_class_map) and scored there.

The weighted loss is always measured at height H with the training loss (ms_erfnet.loss, the "full" class weights
of data/class_weights.py unless given: erfnet_pytorch's on Cityscapes, from the training labels on one's own data),
as the weighted mean over all pixels of the split (not a mean of batch means, which would depend on the
batch size). images/s is end to end: reading, resizing, inference and scoring.

On the workers of a data-parallel job each scores its shard of the split (ms_erfnet.devices.shard: every image
exactly once) and the tallies are summed across the workers (ms_erfnet.collective): the confusion matrix is
exactly the one a single process counts; the loss differs by rounding only (batch means over other batches,
float64 sums in another order).
"""
import time
from dataclasses import dataclass

import mindspore as ms
import numpy as np

from data.class_weights import loss_weights as data_loss_weights
from data.layout import find_samples, label_space
from data.pipeline import dataset_rows, make_dataset
from eval import metrics
from eval.predict import class_map, inference_mode, logits, native_class_map
from facts.errors import UserError
from facts.progress import progress
from facts.spec import check_size
from ms_erfnet.collective import sum_float64, sum_int64
from ms_erfnet.devices import Devices
from ms_erfnet.loss import WeightedCrossEntropy

PROTOCOLS = ("pytorch", "full")
LOSS_WEIGHTS = "full"


@dataclass
class EvalResult:
    """Scores of one evaluation. iou_class: float64 [K] by class id (NaN: class absent from ground truth and
    predictions); confusion: int64 [K, K + 1] (eval.metrics); class_names: the K names (Cityscapes: 19 trainIds)."""
    confusion: np.ndarray
    mean_loss: float
    images: int
    seconds: float
    protocol: str
    height: int
    class_names: tuple

    @property
    def iou_class(self):
        return metrics.class_iou(self.confusion)

    @property
    def mean_iou(self):
        return metrics.mean_iou(self.confusion)

    @property
    def images_per_second(self):
        return self.images / self.seconds if self.seconds > 0 else float("inf")


def check_settings(protocol, height, batch_size):
    """UserError for a protocol, height or batch size evaluation cannot use."""
    if protocol not in PROTOCOLS:
        raise UserError(f"protocol {protocol!r}: choose one of {', '.join(PROTOCOLS)}")
    check_size("height", height)
    if batch_size < 1:
        raise UserError(f"batch size {batch_size}: must be at least 1")


def _check(net, protocol, height, batch_size, space):
    check_settings(protocol, height, batch_size)
    space.check_network(net.num_classes, "the network")


@dataclass
class Tally:
    """What scoring adds up over images: the confusion matrix (int64 [K, K + 1]), the weighted loss's numerator
    (sum of batch losses times their class-weight sums) and denominator, and the images scored."""
    confusion: np.ndarray
    loss_sum: float = 0.0
    weight_sum: float = 0.0
    images: int = 0

    @property
    def mean_loss(self):
        return self.loss_sum / self.weight_sum if self.weight_sum > 0 else float("nan")

    def summed(self, devices):
        """The tally of all the job's workers (the same on every one); `devices`: this worker's Devices."""
        counts = sum_int64(np.append(self.confusion.ravel(), self.images))
        loss_sum, weight_sum = sum_float64([self.loss_sum, self.weight_sum], devices)
        return Tally(counts[:-1].reshape(self.confusion.shape), float(loss_sum), float(weight_sum), int(counts[-1]))


def tally_shard(net, data_root, split, height, protocol, batch_size, num_workers, devices=Devices(), quiet=False,
                skip_bad=False, verify=True, loss_weights=None):
    """The Tally of `net` (in inference mode) on this worker's shard of `split`; a progress bar unless `quiet`.
    With `verify` every PNG is read to its end first, so a damaged file is named before any work; `skip_bad`
    leaves unusable samples out, each named; `loss_weights` as evaluate's."""
    full = protocol == "full"
    samples = find_samples(data_root, split, skip_bad=skip_bad, verify=verify or skip_bad, decode_labels=skip_bad)
    classes = label_space(data_root).void
    tally = Tally(np.zeros((classes, classes + 1), dtype=np.int64))
    data = make_dataset(data_root, split, recipe="val", height=height, batch_size=batch_size,
                        num_shards=devices.size, shard_id=devices.rank, exact_shards=True, num_workers=num_workers,
                        with_meta=full, python_multiprocessing=False, samples=samples)
    if data is None:
        return tally
    if loss_weights is None:
        loss_weights = data_loss_weights(data_root, LOSS_WEIGHTS)
    loss_cell = WeightedCrossEntropy(loss_weights)
    weights = np.array(loss_weights, dtype=np.float64)
    with progress(len(devices.shard(samples)), f"eval {split}", disable=quiet) as bar:
        for row in dataset_rows(data):
            scores = logits(net, row["image"])
            label = row["label"]
            batch_weight = float(weights[label].sum())
            if batch_weight > 0:  # an all-void batch has no loss (its weighted mean would be 0 / 0)
                tally.loss_sum += float(loss_cell(scores, ms.Tensor(label)).asnumpy()) * batch_weight
                tally.weight_sum += batch_weight
            if full:
                truth = row["native_label"]
                prediction = native_class_map(scores, truth.shape[1:])
            else:
                truth, prediction = label, class_map(scores)
            tally.confusion += metrics.confusion_matrix(prediction, truth, classes)
            tally.images += len(label)
            bar.update(len(label))
    return tally


def evaluate(net, data_root, split="val", height=512, protocol="pytorch", batch_size=1, num_workers=2,
             quiet=False, devices=Devices(), skip_bad=False, verify=True, loss_weights=None):
    """Score `net` (an eval.predict.Predictor: a MindSpore ERFNet with its weights, or onnxruntime) on `split` of
    the dataset at `data_root`.

    Returns an EvalResult of the whole split; with the `devices` of a data-parallel job every worker scores
    its shard and returns the summed result. The network is put in inference mode and given back in the mode
    it came in. A progress bar unless `quiet`. `verify`: read every PNG to its end first (training's validation,
    whose run checked the files once, passes False); `skip_bad`: unusable samples are named and left out.
    `loss_weights`: the weighted loss's class weights (None: data.class_weights' default "full" weights).
    """
    space = label_space(data_root)
    _check(net, protocol, height, batch_size, space)
    start = time.perf_counter()
    with inference_mode(net):
        tally = tally_shard(net, data_root, split, height, protocol, batch_size, num_workers, devices, quiet,
                            skip_bad, verify, loss_weights)
    if devices.data_parallel:
        tally = tally.summed(devices)
    return EvalResult(tally.confusion, tally.mean_loss, tally.images, time.perf_counter() - start, protocol, height,
                      space.names)
