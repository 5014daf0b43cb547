"""Validation during training: `eval.evaluate` (the metric and pipeline of `erfnet eval`, pytorch protocol).

Encoder stages are scored through `EncoderPrediction`: the encoder's 1/8 logits upsampled bilinearly to the
input size, so every stage is measured on the same full-resolution labels. In data-parallel training every
rank scores its shard of the split and the scores are summed (eval.evaluate).
"""
import mindspore.nn as nn
import mindspore.ops as ops

from eval.evaluate import evaluate
from ms_erfnet.devices import Devices


class EncoderPrediction(nn.Cell):
    def __init__(self, net):
        super().__init__(auto_prefix=False)  # the wrapped network keeps its parameter names
        self.net, self.num_classes = net, net.num_classes

    def construct(self, x):
        scores = self.net(x, True)
        return ops.interpolate(scores, size=tuple(x.shape[2:]), mode="bilinear", align_corners=False)


def validates_after(config, stage, epoch):
    """Whether training scores the val split after `epoch`: every `validation.every` epochs and after the
    stage's last."""
    return epoch % config.validation.every == 0 or epoch == stage.last_epoch


def scored_network(net, network):
    """What validation scores for a stage training `network` ("encoder" or "full"). A stage makes it once: each
    new EncoderPrediction is a new graph for MindSpore to compile (2.5-3 s per validation on a 2-core CPU)."""
    return EncoderPrediction(net) if network == "encoder" else net


def validate(scored, data_root, height, batch_size, num_workers, devices=Devices(), quiet=False, skip_bad=False,
             loss_weights=None):
    """(val mIoU, val loss) of `scored` (scored_network's) on the val split, on every rank of `devices` (each
    holding the same network); a progress bar unless `quiet`; `skip_bad` leaves out unusable samples. The files
    are not read to their end first: the run checked them once (train.run.check_data). `loss_weights`: the val
    loss's class weights (None: eval.evaluate's default for the data)."""
    result = evaluate(scored, data_root, "val", height, "pytorch", batch_size, num_workers=num_workers, quiet=quiet,
                      devices=devices, skip_bad=skip_bad, verify=False, loss_weights=loss_weights)
    return float(result.mean_iou), float(result.mean_loss)
