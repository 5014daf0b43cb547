"""erfnet_pytorch's training loss and its published class weights.

The loss is its CrossEntropyLoss2d: log-softmax over the class channel, then the pixels' NLL summed with
the weights of their labels and divided by the sum of those weights. The published weights are the ones
hand-set in erfnet_pytorch's train/main.py, indexed by trainId; index 19 is the void channel and weighs 0.
Other data comes with K + 1 weights of its own, one per label 0..K, the last (K, ignored pixels) 0.
"""
import torch
import torch.nn.functional as F

CLASS_WEIGHTS = {
    "encoder": (2.3653597831726, 4.4237880706787, 2.9691488742828, 5.3442072868347, 5.2983593940735,
                5.2275490760803, 5.4394111633301, 5.3659925460815, 3.4170460700989, 5.2414722442627,
                4.7376127243042, 5.2286224365234, 5.455126285553, 4.3019247055054, 5.4264230728149,
                5.4331531524658, 5.433765411377, 5.4631009101868, 5.3947434425354, 0.0),
    "full": (2.8149201869965, 6.9850029945374, 3.7890393733978, 9.9428062438965, 9.7702074050903,
             9.5110931396484, 10.311357498169, 10.026463508606, 4.6323022842407, 9.5608062744141,
             7.8698215484619, 9.5168733596802, 10.373730659485, 6.6616044044495, 10.260489463806,
             10.287888526917, 10.289801597595, 10.405355453491, 10.138095855713, 0.0),
}


class CrossEntropyLoss2d(torch.nn.Module):
    """`NLLLoss(weight, ignore_index)` of `log_softmax(outputs, dim=1)` against (N, H, W) long targets."""

    def __init__(self, weight=None, ignore_index=-100):
        super().__init__()
        self.loss = torch.nn.NLLLoss(weight, ignore_index=ignore_index)

    def forward(self, outputs, targets):
        return self.loss(F.log_softmax(outputs, dim=1), targets)


def reference_loss(weights, channels):
    """The loss a network of `channels` output channels trains with under `weights` (K + 1 floats, the last
    weighing the ignored label K at 0), as float32: a network with a void channel (channels K + 1,
    erfnet_pytorch's 20) weighs every label, the void one 0; a network of K channels has no channel for the
    label K, which the NLL then ignores: the same sum over the other pixels, divided by the same weights."""
    if channels not in (len(weights) - 1, len(weights)):
        raise ValueError(f"{len(weights)} class weights (K + 1, the last for ignored pixels) fit networks of "
                         f"{len(weights) - 1} or {len(weights)} channels, not {channels}")
    if channels == len(weights):
        return CrossEntropyLoss2d(torch.tensor(weights, dtype=torch.float32))
    return CrossEntropyLoss2d(torch.tensor(weights[:channels], dtype=torch.float32), ignore_index=channels)
