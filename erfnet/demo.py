"""`erfnet demo`: the project end to end on random weights and generated data, in a few minutes on a CPU.

1. Weights as erfnet_pytorch saved them (random, with non-trivial BatchNorm statistics), converted to a
   MindSpore checkpoint, and the layer-by-layer parity report on them.
"""
import time
from pathlib import Path

import torch

from erfnet.atomic import atomic_output


def add_arguments(parser):
    parser.add_argument("--out", default="demo_out", help="folder for everything the demo writes")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights and data")
    parser.add_argument("--parity-height", type=int, default=64, help="input height of the parity report")
    parser.add_argument("--parity-width", type=int, default=128, help="input width of the parity report")


def heading(text):
    print(f"\n=== {text} ===", flush=True)


def write_upstream_weights(path, seed):
    """Random weights in erfnet_pytorch's file format: a state_dict with DataParallel's `module.` prefix."""
    from torch_ref.random_weights import random_reference_net
    state = {"module." + key: value for key, value in random_reference_net(20, seed).state_dict().items()}
    with atomic_output(path) as temporary:
        torch.save(state, temporary)


def parity_step(out, args):
    from convert import convert_file
    from convert.parity_cli import parity_report
    upstream = out / "erfnet_pytorch_random.pth"
    heading(f"1. Random weights saved as erfnet_pytorch saves them: {upstream}")
    write_upstream_weights(upstream, args.seed)
    converted = out / "erfnet_random.ckpt"
    weights = convert_file(upstream, converted)
    print(f"converted to {converted}: {len(weights.arrays)} tensors, {weights.num_classes} classes")
    for note in weights.notes:
        print(f"  note: {note}")
    text, passed = parity_report(weights, args.parity_height, args.parity_width, batch=2, seed=args.seed)
    print(text)
    return passed


def run(args):
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    passed = parity_step(out, args)
    print(f"\nDemo finished in {time.perf_counter() - started:.0f} s; outputs in {out}/. "
          f"Parity: {'every row passed' if passed else 'FAILED'}.")
    return 0 if passed else 1
