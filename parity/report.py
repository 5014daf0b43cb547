"""The parity report on one set of weights: every comparison table of parity.engine, and the verdict."""
import numpy as np

from convert.names import DECODER, ENCODER_HEAD
from parity.engine import (compare_backward, compare_end_to_end, compare_forward, format_table, network_pair,
                           per_block)


def parity_report(weights, height, width, batch, seed):
    """All comparison tables for `weights` as (text, passed)."""
    pair = network_pair(weights)
    generator = np.random.default_rng(seed)
    image = generator.random((batch, 3, height, width), dtype=np.float32)
    tables, rows = [], []
    for title, table_rows in (
            ("Forward, eval mode (running statistics)", compare_forward(pair, image, train=False)),
            ("Forward, train mode (batch statistics, dropout off)", compare_forward(pair, image, train=True))):
        tables.append(format_table(table_rows, title))
        rows += table_rows
    gradients, statistics = compare_backward(pair, image, seed)
    tables.append(format_table(per_block(gradients), "Gradients per block, train mode: worst tensor of each "
                                                     "block (input and every parameter)"))
    tables.append(format_table(per_block(statistics), "BatchNorm running statistics after one train-mode "
                                                      "forward: worst of each block"))
    rows += gradients + statistics
    for only_encode, present in ((False, DECODER in pair.parts), (True, ENCODER_HEAD in pair.parts)):
        if present:
            size = (height // 8, width // 8) if only_encode else (height, width)
            labels = generator.integers(0, 20, (batch, *size))
            name = "encoder + head (only_encode)" if only_encode else "full network"
            train_loss = compare_end_to_end(pair, image, labels, only_encode, train=True)
            tables.append(format_table(train_loss, f"Weighted loss through the {name}, train mode"))
            end_to_end = compare_end_to_end(pair, image, labels, only_encode, train=False)
            title = f"Weighted loss and gradients through the {name}, eval mode"
            if end_to_end[1].comparable:
                tables.append(format_table(end_to_end[:2] + per_block(end_to_end[2:]),
                                           f"{title}: input, then the worst parameter of each block"))
            else:
                tables.append(format_table(end_to_end[:1], title) + "\ngradients: n/a at this size (a ReLU input "
                              "in the network stays within float32 rounding of 0); try --height 16 --width 32")
            rows += train_loss + end_to_end
    return "\n\n".join(tables), all(r.passed for r in rows)
