"""Dropout whose masks come from one seeded numpy generator, so a resumed run draws the same masks as an
uninterrupted one, and whose masks reach the compiled train step as data.

MindSpore's CPU dropout kernels keep a private random state per primitive that neither `set_seed` nor
`manual_seed` resets (measured with 2.10: re-seeding does not repeat the masks), and the seeded generator
dropout (`nn.Dropout2dExt`, `mint.nn.Dropout`) is not implemented on the CPU. The network training runs is
therefore built with `SeededDropout` cells (ms_erfnet.ERFNet's `dropout_seed`). Before each step
`DropoutRandomness.draw` draws every mask the step's forward pass uses, in forward order, from the generator
whose state travels in the checkpoints. The masks match PyTorch's: whole channels (Dropout2d) or single
elements, kept ones scaled by 1 / (1 - p).

A mask is a Parameter of its cell (`<block>.dropout.mask`), so the compiled step reads each new mask without
recompiling; it is no weight: `network_state` leaves the masks out of checkpoints and stage hand-overs.
"""
import json

import mindspore as ms
import mindspore.nn as nn
import mindspore.ops as ops
import numpy as np


MASK = ".dropout.mask"


class SeededDropout(nn.Cell):
    """Drops whole channels (mode "channel") or elements ("element") with probability `rate`, applying the
    mask last drawn for it. `channels` and `stride` (the block's downsampling) give the mask's shape."""

    def __init__(self, rate, mode, channels, stride):
        super().__init__()
        self.rate, self.mode, self.channels, self.stride = float(rate), mode, channels, stride
        self.mask = ms.Parameter(ms.Tensor(np.ones((1, 1, 1, 1), np.float32)), name="mask", requires_grad=False)

    def mask_shape(self, batch, height, width):
        if self.mode == "channel":
            return batch, self.channels, 1, 1
        return batch, self.channels, height // self.stride, width // self.stride

    def draw(self, generator, batch, height, width):
        keep = generator.random(self.mask_shape(batch, height, width), dtype=np.float32) >= self.rate
        self.mask.set_data(ms.Tensor(keep.astype(np.float32) / np.float32(1 - self.rate)))

    def construct(self, x):
        if not self.training or self.rate == 0:
            return x
        # A broadcasting Mul keeps two 8-byte indices per output element for the graph's life (MindSpore 2.10
        # CPU): 4 activations per dropout, forward and backward. Broadcast first, multiply equal shapes.
        return x * ops.broadcast_to(self.mask.astype(x.dtype), x.shape)


class DropoutRandomness:
    """The generator behind every SeededDropout of one network; its state is a JSON string.

    `encoder` and `decoder` list the SeededDropout cells of each part in forward order."""

    def __init__(self, seed, encoder, decoder):
        self.generator = np.random.default_rng(seed)
        self.encoder = [cell for cell in encoder if cell.rate > 0]
        self.decoder = [cell for cell in decoder if cell.rate > 0]

    def draw(self, image_shape, only_encode):
        """Draw the masks of one training step on images of `image_shape` (N, C, H, W)."""
        batch, _, height, width = image_shape
        for cell in self.encoder + ([] if only_encode else self.decoder):
            cell.draw(self.generator, batch, height, width)

    def state(self):
        return json.dumps(self.generator.bit_generator.state)

    def restore(self, state):
        self.generator.bit_generator.state = json.loads(state)

    def keep_all(self):
        """Set every mask to ones: train mode then computes exactly as without dropout, until the next draw (the
        parity engine's train-mode comparisons)."""
        for cell in self.encoder + self.decoder:
            cell.mask.set_data(ms.Tensor(np.ones((1, 1, 1, 1), np.float32)))


def network_state(net):
    """The network's Parameters without the dropout masks: what checkpoints keep."""
    return [p for p in net.get_parameters() if not p.name.endswith(MASK)]
