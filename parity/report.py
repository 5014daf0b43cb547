"""The layer-by-layer tables of parity.engine for a pair of networks, and the one-file report on one set of
weights (the `erfnet parity --weights FILE` command and the demo)."""
import contextlib
from dataclasses import dataclass

import numpy as np
import torch

from convert.names import DECODER, ENCODER_HEAD
from facts.errors import UserError
from facts.loss_weights import default_loss_weights
from facts.spec import STRIDE, check_size
from parity.engine import (compare_backward, compare_end_to_end, compare_forward, format_table, network_pair,
                           per_block)

EVAL_FORWARD = "Forward, eval mode (running statistics)"
TRAIN_FORWARD = "Forward, train mode (batch statistics, dropout off)"
GRADIENTS = "Gradients per block, train mode: worst tensor of each block (input and every parameter)"
STATISTICS = "BatchNorm running statistics after one train-mode forward: worst of each block"


@dataclass
class Table:
    """One comparison: its title, every row that counts for the verdict, the text printed (which may show only the
    worst row of each block), and whether it runs through the whole network (its rows then belong to no block)."""
    title: str
    rows: list
    text: str
    end_to_end: bool = False


def check_input(height, width, batch, prefix=""):
    """Raise UserError unless the comparison's input suits ERFNet: sizes that are multiples of 8, and more than one
    value per channel at 1/8 resolution, which BatchNorm needs in train mode. `prefix` is the options' ("--")."""
    check_size(f"{prefix}height", height)
    check_size(f"{prefix}width", width)
    if batch < 1:
        raise UserError(f"{prefix}batch {batch}: must be at least 1")
    if batch * (height // STRIDE) * (width // STRIDE) < 2:
        raise UserError(f"{prefix}batch {batch} at {height}x{width}: train-mode BatchNorm needs more than one value per "
                        f"channel at 1/{STRIDE} resolution; give a larger size or batch")


@contextlib.contextmanager
def one_torch_thread():
    """The float64 reference on one torch thread: its small per-block tensors gain nothing from a second one, and
    on a busy machine two spinning threads made it 3-4x slower (measured at 32x64)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def layer_tables(pair, height, width, batch, seed, end_to_end=True):
    """Every comparison table, as parity_report prints them. The eval-mode comparisons run first, with the
    networks' own dropout (in eval mode it must do nothing) and their files' BatchNorm statistics; then dropout is
    switched off on both sides for the train-mode ones, which need identical computations. The input, labels and
    output gradients come from `seed`. `end_to_end=False` leaves out the loss and gradients through the whole
    network, whose rows belong to no block (a third of the time at small sizes)."""
    check_input(height, width, batch)
    generator = np.random.default_rng(seed)
    image = generator.random((batch, 3, height, width), dtype=np.float32)
    classes = pair.ours.num_classes
    ends = [(only_encode, generator.integers(0, classes, (batch, height // 8, width // 8) if only_encode
                                             else (batch, height, width)))
            for only_encode, part in ((False, DECODER), (True, ENCODER_HEAD)) if end_to_end and part in pair.parts]
    with one_torch_thread():
        eval_rows = compare_forward(pair, image, train=False)
        eval_ends = [compare_end_to_end(pair, image, labels, only_encode, train=False) for only_encode, labels in ends]
        pair.dropout_off()
        train_rows = compare_forward(pair, image, train=True)
        gradients, statistics = compare_backward(pair, image, seed)
        train_ends = [compare_end_to_end(pair, image, labels, only_encode, train=True) for only_encode, labels in ends]
    tables = [Table(EVAL_FORWARD, eval_rows, format_table(eval_rows, EVAL_FORWARD)),
              Table(TRAIN_FORWARD, train_rows, format_table(train_rows, TRAIN_FORWARD)),
              Table(GRADIENTS, gradients, format_table(per_block(gradients), GRADIENTS)),
              Table(STATISTICS, statistics, format_table(per_block(statistics), STATISTICS))]
    for (only_encode, _), train_loss, rows in zip(ends, train_ends, eval_ends):
        tables += end_to_end_tables(only_encode, train_loss, rows, classes)
    return tables


def end_to_end_tables(only_encode, train_loss, rows, classes):
    """The end-to-end loss in train mode, and loss and gradients in eval mode (n/a gradients said so); the titles
    name the class weights of the loss (facts/loss_weights.py)."""
    name = "encoder + head (only_encode)" if only_encode else "full network"
    weights = default_loss_weights("encoder" if only_encode else "full", classes)[1]
    title = f"Weighted loss through the {name}, train mode ({weights})"
    tables = [Table(title, train_loss, format_table(train_loss, title), True)]
    title = f"Weighted loss and gradients through the {name}, eval mode ({weights})"
    if rows[1].comparable:
        title = f"{title}: input, then the worst parameter of each block"
        text = format_table(rows[:2] + per_block(rows[2:]), title)
    else:
        text = (format_table(rows[:1], title) + "\ngradients: n/a at this size (a ReLU input in the network stays "
                "within float32 rounding of 0); try --height 16 --width 32")
    return tables + [Table(title, rows, text, True)]


def parity_report(weights, height, width, batch, seed):
    """All comparison tables for `weights`, both networks built from them, as (text, passed, tables)."""
    tables = layer_tables(network_pair(weights), height, width, batch, seed)
    return "\n\n".join(table.text for table in tables), all(r.passed for table in tables for r in table.rows), tables
