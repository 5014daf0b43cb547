"""erfnet_pytorch's training loss and its published class weights.

The loss is its CrossEntropyLoss2d: log-softmax over the class channel, then the pixels' NLL summed with
the weights of their labels and divided by the sum of those weights. The weights are the ones hand-set in
erfnet_pytorch's train/main.py, indexed by trainId; index 19 is the void channel and weighs 0.
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
    """`NLLLoss(weight)` of `log_softmax(outputs, dim=1)` against (N, H, W) long targets."""

    def __init__(self, weight=None):
        super().__init__()
        self.loss = torch.nn.NLLLoss(weight)

    def forward(self, outputs, targets):
        return self.loss(F.log_softmax(outputs, dim=1), targets)


def reference_loss(network):
    """The loss erfnet_pytorch trains `network` ("encoder" or "full") with: its class weights as float32."""
    if network not in CLASS_WEIGHTS:
        raise ValueError(f"network must be one of {sorted(CLASS_WEIGHTS)}, not {network!r}")
    return CrossEntropyLoss2d(torch.tensor(CLASS_WEIGHTS[network], dtype=torch.float32))
