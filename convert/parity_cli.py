"""`erfnet parity --weights FILE`: the layer-by-layer comparison on a user's own weights."""
import time

import numpy as np

from convert.api import read_weights
from convert.names import DECODER, ENCODER_HEAD
from convert.parity import (compare_backward, compare_end_to_end, compare_forward, format_table,
                            network_pair, per_block)
from erfnet.errors import UserError


def add_arguments(parser):
    parser.add_argument("--weights", required=True, metavar="FILE",
                        help="ERFNet weights in any format `erfnet convert` reads (.pth, .pth.tar, .pt, .ckpt)")
    parser.add_argument("--height", type=int, default=64,
                        help="input height (a multiple of 8). Forward rows compare at any size; gradient rows "
                             "need every ReLU input clear of float32 rounding around 0, which larger inputs "
                             "rarely allow (such rows show n/a)")
    parser.add_argument("--width", type=int, default=128, help="input width (a multiple of 8)")
    parser.add_argument("--batch", type=int, default=2, help="batch size (train mode uses batch statistics)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random input, labels and gradients")


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


def run(args):
    if args.height % 8 or args.width % 8 or min(args.height, args.width, args.batch) <= 0:
        raise UserError("--height and --width must be positive multiples of 8 and --batch positive")
    weights = read_weights(args.weights)
    started = time.perf_counter()
    text, passed = parity_report(weights, args.height, args.width, args.batch, args.seed)
    print(f"{args.weights}: {weights.num_classes} classes, parts: {', '.join(weights.parts)}; input "
          f"{args.batch}x3x{args.height}x{args.width}; ours float32 against torch_ref in float64\n")
    print(text)
    if "n/a" in text:
        print("\nn/a: some ReLU input lies within float32 rounding of 0, where either framework may round it to "
              "the other side; that one decision moves the whole gradient, so no bar applies (see README).")
    verdict = "PASS: every row within its bar" if passed else "FAIL: rows above exceed their bar"
    print(f"\n{verdict} ({time.perf_counter() - started:.1f} s)")
    return 0 if passed else 1
