"""`erfnet demo`: the project end to end on random weights and generated data, in a few minutes on a CPU.

1. Weights as erfnet_pytorch saved them (random, with non-trivial BatchNorm statistics), converted to a
   MindSpore checkpoint, and the layer-by-layer parity report on them.
2. Generated street scenes in Cityscapes' layout (erfnet make-data).
3. The four-stage recipe in miniature (configs/smoke.yaml), with each stage's val mIoU.
4. `erfnet eval` on the final weights, and pictures to look at: photo, ground truth and prediction side by
   side, and the per-class IoU as a bar chart.
"""
import shutil
import time
from pathlib import Path

import torch

from facts.atomic import atomic_output
from facts.errors import UserError

SMOKE_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "smoke.yaml"


def add_arguments(parser):
    parser.add_argument("--out", default="demo_out", help="folder for everything the demo writes")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights and data")
    parser.add_argument("--parity-height", type=int, default=64, help="input height of the parity report")
    parser.add_argument("--parity-width", type=int, default=128, help="input width of the parity report")
    parser.add_argument("--config", default=str(SMOKE_CONFIG), help="training config of step 3")
    parser.add_argument("--train-images", type=int, default=32, help="generated training scenes")
    parser.add_argument("--val-images", type=int, default=8, help="generated validation scenes")
    parser.add_argument("--width", type=int, default=256, help="width of the generated scenes (height: half)")


def heading(text):
    print(f"\n=== {text} ===", flush=True)


def write_upstream_weights(path, seed):
    """Random weights in erfnet_pytorch's file format: a state_dict with DataParallel's `module.` prefix."""
    from torch_ref.random_weights import upstream_state_dict
    with atomic_output(path) as temporary:
        torch.save(upstream_state_dict(20, seed), temporary)


def parity_step(out, args):
    from convert import convert_file
    from parity.report import parity_report
    upstream = out / "erfnet_pytorch_random.pth"
    heading(f"1. Random weights saved as erfnet_pytorch saves them: {upstream}")
    write_upstream_weights(upstream, args.seed)
    converted = out / "erfnet_random.ckpt"
    weights = convert_file(upstream, converted, force=True)
    print(f"converted to {converted}: {len(weights.arrays)} tensors, {weights.num_classes} classes")
    for note in weights.notes:
        print(f"  note: {note}")
    text, passed = parity_report(weights, args.parity_height, args.parity_width, batch=2, seed=args.seed)
    print(text)
    return passed


def data_step(out, args):
    from data.make_data import make_data
    root = out / "cityscapes"
    heading(f"2. Generated street scenes in Cityscapes' layout: {root}")
    make_data(root, {"train": args.train_images, "val": args.val_images}, args.width, args.seed)
    print(f"{args.train_images} train and {args.val_images} val scenes of {args.width}x{args.width // 2}")
    return root


def replace_previous_run(run_dir):
    """Make room for the demo's training run, so that the demo can run again: a run an earlier demo left in
    `run_dir` (a folder `erfnet train` marked as its run, train.run_folder) is removed; anything else there is
    refused, never deleted (a user's own config.yaml there included)."""
    from train.run_folder import is_run
    if not run_dir.exists():
        return
    if not is_run(run_dir):
        raise UserError(f"{run_dir}: exists and is not a training run the demo wrote; choose another --out")
    print(f"replacing the previous demo run in {run_dir}")
    shutil.rmtree(run_dir)


def training_step(out, root, args):
    from train.run import train_from_config
    run_dir = out / "run"
    heading(f"3. The four-stage recipe in miniature ({args.config}) -> {run_dir}")
    replace_previous_run(run_dir)
    results = train_from_config(args.config, root, run_dir, overrides=(f"seed={args.seed}",))
    for result in results:
        print(f"stage {result.stage}: val mIoU best {result.best_miou:.3f}, last {result.last_miou:.3f}")
    return sorted(run_dir.glob("*/final.ckpt"))[-1]


def evaluation_step(out, root, weights, args):
    """Scored at the config's validation height, the size the network was trained for."""
    from erfnet.cli import main
    from eval.pictures import write_demo_pictures
    from train.config import read_config
    height = read_config(args.config, ()).validation.height
    heading(f"4. erfnet eval --weights {weights} --data {root} --height {height} --protocol full, and pictures")
    status = main(["eval", "--weights", str(weights), "--data", str(root), "--height", str(height),
                   "--protocol", "full"])
    for path in write_demo_pictures(weights, root, out / "pictures", count=3, height=height):
        print(f"picture: {path}")
    return status == 0


def run(args):
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    passed = parity_step(out, args)
    root = data_step(out, args)
    final = training_step(out, root, args)
    evaluated = evaluation_step(out, root, final, args)
    print(f"\nDemo finished in {time.perf_counter() - started:.0f} s; outputs in {out}/. "
          f"Parity: {'every row passed' if passed else 'FAILED'}.")
    return 0 if passed and evaluated else 1
