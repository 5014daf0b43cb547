"""Dropout whose masks come from one seeded numpy generator, so a resumed run draws the same masks as an
uninterrupted one.

MindSpore's CPU dropout kernels keep a private random state per primitive that neither `set_seed` nor
`manual_seed` resets (measured with 2.10: re-seeding does not repeat the masks), and the seeded generator
dropout (`nn.Dropout2dExt`, `mint.nn.Dropout`) is not implemented on the CPU. Training therefore swaps each
dropout cell of the network for `SeededDropout`, whose generator state travels in the checkpoints. The
masks match PyTorch's: whole channels (Dropout2d) or single elements, kept ones scaled by 1 / (1 - p).
"""
import json

import mindspore as ms
import mindspore.nn as nn
import numpy as np


class SeededDropout(nn.Cell):
    """Drops whole channels (mode "channel") or elements ("element") with probability `rate`."""

    def __init__(self, rate, mode, generator):
        super().__init__()
        self.rate, self.mode, self.generator = float(rate), mode, generator

    def construct(self, x):
        if not self.training or self.rate == 0:
            return x
        shape = tuple(x.shape[:2]) + ((1, 1) if self.mode == "channel" else tuple(x.shape[2:]))
        keep = self.generator.random(shape, dtype=np.float32) >= self.rate
        return x * ms.Tensor(keep.astype(np.float32) / np.float32(1 - self.rate), x.dtype)


class DropoutRandomness:
    """The generator behind every SeededDropout of one network; its state is a JSON string."""

    def __init__(self, seed):
        self.generator = np.random.default_rng(seed)

    def state(self):
        return json.dumps(self.generator.bit_generator.state)

    def restore(self, state):
        self.generator.bit_generator.state = json.loads(state)


def install_seeded_dropout(net, seed):
    """Replace the network's dropout cells (nn.Dropout2d: channels, nn.Dropout: elements) by SeededDropout
    with the same rates and modes; returns their randomness."""
    randomness = DropoutRandomness(seed)
    for _, cell in net.cells_and_names():
        dropout = getattr(cell, "dropout", None)
        if isinstance(dropout, nn.Dropout2d):
            cell.dropout = SeededDropout(1 - dropout.keep_prob, "channel", randomness.generator)
        elif isinstance(dropout, nn.Dropout):
            cell.dropout = SeededDropout(dropout.p, "element", randomness.generator)
    return randomness
