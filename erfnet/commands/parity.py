"""`erfnet parity --weights FILE`: the layer-by-layer comparison on a user's own weights."""
import time

from convert.api import read_weights
from facts.errors import UserError
from facts.spec import check_size
from parity.report import parity_report


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


def run(args):
    check_size("--height", args.height)
    check_size("--width", args.width)
    if args.batch < 1:
        raise UserError(f"--batch {args.batch}: must be at least 1")
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
