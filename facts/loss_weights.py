"""The class weights a loss uses when nothing else gives them, for a network of any class count.

erfnet_pytorch published weights for its 20-channel Cityscapes network only (facts/class_weights.yaml). A network
of another class count has no published weights: where a comparison needs a loss without data (`erfnet parity`),
every class weighs 1. Training and evaluation on a dataset weigh the loss with weights computed from its labels
or given in the config (data/class_weights.py).
"""
from facts.spec import class_weights

CITYSCAPES_CHANNELS = 20


def default_loss_weights(kind, num_classes):
    """(weights, description) for a network of `num_classes` output channels: erfnet_pytorch's for 20 channels
    (`kind` "encoder" or "full"), uniform otherwise."""
    if num_classes == CITYSCAPES_CHANNELS:
        return class_weights(kind), f"erfnet_pytorch's Cityscapes class weights ({kind})"
    return (1.0,) * num_classes, f"uniform class weights: no published weights for {num_classes} classes"
