"""Moving weights to the other upsampler alignment, and what that does to the network's output.

There is no exact weight transform between the alignments: the zoo's upsampler keeps rows 0..2H-1 of the
unpadded transposed conv, PyTorch's rows 1..2H, and shifting a stride-2 output by one pixel would need a
fourth kernel tap. "Realigning" therefore means: the same weights, computed with the other alignment. Away
from a border band the two outputs are the same map moved by OUTPUT_SHIFT pixels down and right (one pixel
at 1/4 resolution, carried through the second upsampler and the 2x2 head), exactly; a network trained with
one alignment predicts that much off in the other. Only the decoder holds upsamplers: encoder-only weights
move freely.
"""
import dataclasses
from dataclasses import dataclass

import numpy as np

from convert.names import DECODER, ENCODER_HEAD
from facts.errors import UserError

OUTPUT_SHIFT = 6
BORDER = 32
MEASURE_SHAPE = (1, 3, 256, 512)
DESCRIBED = {"torch": "the torch alignment (erfnet_pytorch: padding 1, output padding 1)",
             "zoo": "the zoo alignment (the MindSpore model zoo's pad_mode \"same\", one pixel earlier)"}


@dataclass
class AlignmentChange:
    """The output of the same weights under two alignments, on one random input."""
    shape: tuple
    relative_max: float
    changed_pixels: float
    shifted_interior: float

    def measured(self, source, target):
        """The change in words: how much, and that it is the same map moved."""
        return (f"output on random input {'x'.join(map(str, self.shape))} changed by {self.relative_max:.3g} "
                f"(max |diff| / max |output|), the predicted class at {100 * self.changed_pixels:.1f}% of pixels; "
                f"it is the {source}-aligned output moved {OUTPUT_SHIFT} pixels "
                f"{'up and left' if target == 'torch' else 'down and right'} (difference "
                f"{self.shifted_interior:.1g} beyond {BORDER} pixels of the border)")

    def describe(self, source, target):
        return f"realigned from {source} to {target}: same weights, {self.measured(source, target)}"


def _network(weights, upsample_align):
    from convert.network import build_network
    return build_network(weights.num_classes, weights, upsample_align=upsample_align, fresh_parts=(ENCODER_HEAD,))[0]


def measure_alignment_change(weights, source, target, shape=MEASURE_SHAPE, seed=0):
    """Run `weights` (a full network) with both alignments on one uniform random input and compare."""
    return alignment_change(lambda align: _network(weights, align), source, target, shape, seed)


def alignment_change(network, source, target, shape=MEASURE_SHAPE, seed=0):
    """The same, for `network(upsample_align)`, a factory of MindSpore ERFNets holding one set of weights."""
    import mindspore as ms
    image = ms.Tensor(np.random.default_rng(seed).random(shape, dtype=np.float32))
    before = network(source)(image).asnumpy()
    after = network(target)(image).asnumpy()
    shift = OUTPUT_SHIFT if target == "torch" else -OUTPUT_SHIFT
    moved = np.roll(before, (-shift, -shift), axis=(2, 3))
    scale = float(np.abs(before).max()) or 1.0
    interior = (slice(None), slice(None), slice(BORDER, -BORDER), slice(BORDER, -BORDER))
    return AlignmentChange(tuple(shape), float(np.abs(after - before).max()) / scale,
                           float(np.mean(after.argmax(1) != before.argmax(1))),
                           float(np.abs(after - moved)[interior].max()) / scale)


def target_alignment(weights, torch_target, zoo_names, realign):
    """The alignment the output file computes with: torch files know only the torch alignment, the zoo's
    names imply the zoo's, this project's checkpoints keep the weights' own unless realigned (to torch)."""
    if torch_target:
        return "torch"
    if zoo_names:
        return "zoo"
    return "torch" if realign else weights.upsample_align


def realigned(weights, target, realign, source_name, target_name, shape=MEASURE_SHAPE):
    """`weights` for computing with `target`. Full networks change alignment only when `realign` allows it,
    with the measured change in the notes; anything else raises a UserError that says why and what to do."""
    source = weights.upsample_align
    if source == target:
        return weights
    if DECODER not in weights.parts:
        note = f"encoder only: no upsampler, so moving from the {source} to the {target} alignment is exact"
        return dataclasses.replace(weights, upsample_align=target, notes=[*weights.notes, note])
    if not realign:
        raise UserError(
            f"{source_name} was made for {DESCRIBED[source]}; {target_name} computes with {DESCRIBED[target]}. "
            f"No weight transform makes the two equal: the same weights predict {OUTPUT_SHIFT} pixels off. Keep "
            f"the {source} alignment (write this project's .ckpt: it records the alignment, and eval, infer, "
            f"export and train read it), or pass --realign to write the same weights for the {target} alignment "
            f"and see the measured output change")
    change = measure_alignment_change(weights, source, target, shape)
    return dataclasses.replace(weights, upsample_align=target,
                               notes=[*weights.notes, change.describe(source, target)])
