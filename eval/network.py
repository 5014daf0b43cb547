"""A ready-to-run MindSpore ERFNet from any weight file the converter reads, in inference mode.

The network honours the file's upsampler alignment (`torch` or `zoo`, stored in MindSpore checkpoints).
Encoder-only weights are refused: evaluation, inference and export need the decoder.
"""
import ms_erfnet  # noqa: F401  (caps oneDNN before any MindSpore kernel runs)
import mindspore as ms

from convert import read_weights
from convert.ms_io import ms_parameters
from convert.names import ENCODER_HEAD, part_of
from erfnet.errors import UserError
from ms_erfnet import ERFNet


def network_from_weights(weights, source):
    """ERFNet built for `weights` (class count, alignment) with the weights loaded, in inference mode."""
    if not weights.has_full_network:
        raise UserError(f"{source}: encoder-only weights (no decoder); evaluation, inference and export need "
                        f"the full network: train the decoder stage first")
    net = ERFNet(weights.num_classes, upsample_align=weights.upsample_align)
    not_loaded, _ = ms.load_param_into_net(net, ms_parameters(weights))
    missing = [name for name in not_loaded if part_of(name) != ENCODER_HEAD]
    if missing:
        raise UserError(f"{source}: weights for {', '.join(missing[:4])} were not loaded")
    net.set_train(False)
    return net


def load_network(path):
    """(net, weights) for a .ckpt or PyTorch file; UserError for unreadable or encoder-only files."""
    weights = read_weights(path)
    return network_from_weights(weights, path), weights
