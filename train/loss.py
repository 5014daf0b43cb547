"""The training recipe's loss: log-softmax and class-weighted NLL over the 20 channels.

mean = sum(w[y] * nll) / sum(w[y]); the void class 19 weighs 0, so void pixels do not count.
"""
import mindspore as ms
import mindspore.nn as nn
import mindspore.ops as ops
import numpy as np

from erfnet.spec import class_weights


class WeightedCrossEntropy(nn.Cell):
    """`kind` picks the class weights of erfnet/data/class_weights.yaml: "encoder" or "full"."""

    def __init__(self, kind):
        super().__init__()
        self.weight = ms.Tensor(np.array(class_weights(kind), dtype=np.float32))

    def construct(self, logits, labels):
        return ops.nll_loss(ops.log_softmax(logits, 1), labels, weight=self.weight, reduction="mean")
