"""The one place where a MindSpore ERFNet is built and meets weights: build the network for them and load them by
name.

`build_network` makes ms_erfnet.ERFNet with the class count, upsampler alignment, dropout and mode asked for,
with the layers training runs when given a dropout seed (seeded dropout; on the CPU the lean convolution
gradients), and loads `convert.weights.Weights` through MindSpore's `load_param_into_net`. Every parameter must
come from the weights, except those of the parts a caller allows to start fresh (a training stage's new decoder, the
encoder head a full-network forward never uses); the names left fresh are returned so the caller can say so.
`load_full_network` is the same for a weight file that must hold the whole, trained network (eval, infer, export).
"""
import mindspore as ms

from convert.api import read_weights
from convert.ms_io import ms_parameters
from convert.names import ENCODER_HEAD, part_of
from facts.errors import UserError
from ms_erfnet import ERFNet
from ms_erfnet.seeded_dropout import network_state

SHOWN = 4


def build_network(num_classes, weights=None, *, upsample_align=None, dropout=None, dropout_mode="channel",
                  dropout_seed=None, fresh_parts=(), source="the weights"):
    """(net, fresh): ERFNet(num_classes) holding `weights` (None: all fresh).

    Without `dropout_seed` the network for inference (MindSpore's dropout cells, in eval mode); with it the
    network training runs, in train mode: SeededDropout cells drawing from `dropout_seed` (`net.dropout_randomness`)
    and, when the device target is the CPU, the lean convolution gradients of the CPU train step.
    upsample_align defaults to the weights' own (torch for fresh weights). `fresh_parts` (convert.names.PARTS)
    may keep their initialisation when the weights lack them; any other missing parameter is a UserError naming
    `source`. `fresh` lists the parameter names left at their initialisation."""
    align = upsample_align or (weights.upsample_align if weights is not None else "torch")
    training = dropout_seed is not None
    net = ERFNet(num_classes, dropout=dropout, dropout_mode=dropout_mode, upsample_align=align,
                 dropout_seed=dropout_seed, lean_conv_gradients=training and ms.get_context("device_target") == "CPU")
    names = [parameter.name for parameter in network_state(net)]
    fresh = names
    if weights is not None:
        if weights.num_classes not in (0, num_classes):
            raise UserError(f"{source}: holds weights for {weights.num_classes} classes, not {num_classes}")
        fresh = [name for name in names if name not in weights.arrays]
        refused = [name for name in fresh if part_of(name) not in fresh_parts]
        if refused:
            raise UserError(f"{source}: no weights for {', '.join(refused[:SHOWN])}"
                            + (f" and {len(refused) - SHOWN} more" if len(refused) > SHOWN else ""))
        parameters = ms_parameters(weights)
        # the fresh parameters and the dropout masks load their own values: MindSpore would warn about each name
        # it misses, and the caller says in one line what starts fresh
        parameters.update({p.name: ms.Parameter(p.data.copy(), name=p.name) for p in net.get_parameters()
                           if p.name not in parameters})
        ms.load_param_into_net(net, parameters, strict_load=True)
    net.set_train(training)
    return net, fresh


def full_network_weights(path):
    """The weights of a weight file of the whole, trained network; encoder-only files and encoder stages'
    checkpoints are refused."""
    weights = read_weights(path)
    if not weights.has_full_network or not weights.decoder_trained:
        what = "encoder-only weights (no decoder)" if not weights.has_full_network else \
            "an encoder stage's checkpoint (its decoder was never trained)"
        raise UserError(f"{path}: {what}; evaluation, inference and export need the full network: use a checkpoint "
                        f"of a full-network stage")
    return weights


def load_full_network(path):
    """(net, weights) in inference mode for a weight file of the whole network; encoder-only files are refused."""
    weights = full_network_weights(path)
    net, _ = build_network(weights.num_classes, weights, fresh_parts=(ENCODER_HEAD,), source=path)
    return net, weights
