"""`erfnet demo`: the project end to end on random weights and generated data, in a few minutes on a CPU.

1. Weights as erfnet_pytorch saved them (random, with non-trivial BatchNorm statistics), converted to a
   MindSpore checkpoint, and the layer-by-layer parity report on them.
2. Generated street scenes in Cityscapes' layout (erfnet make-data).
3. Staged training with the shipped demo config: the encoder with its 1x1 head on labels at 1/8, then the full
   network from that encoder with a fresh decoder, each stage's val mIoU.
4. `erfnet eval` on the trained network, and pictures to look at: photo, ground truth and prediction side by
   side, and the per-class IoU as a bar chart.
5. The trained network exported to ONNX and checked against onnxruntime.
6. A summary: the parity verdict, each stage's val mIoU, the evaluation, where the files are, the time taken.
"""
import json
import shutil
import time
from pathlib import Path

import torch

from facts.atomic import atomic_output
from facts.errors import UserError

DEMO_CONFIG = "demo"
SCENES = {"train": 32, "val": 8}  # generated scenes of WIDTH x WIDTH/2 the demo config is measured on
WIDTH = 256
SEED = 0
ONNX_NAME = "erfnet_demo.onnx"
PARITY_SIZE = (16, 32)  # 64x128 left 471 gradient rows n/a with the default seed, 32x64 458, 16x32 none


def add_arguments(parser):
    parser.add_argument("--out", default="demo_out", help="folder for everything the demo writes")
    parser.add_argument("--seed", type=int, default=SEED, help="seed of the random weights, the data and training")
    parser.add_argument("--parity-height", type=int, default=PARITY_SIZE[0],
                        help="input height of the parity report (at the default size every gradient row of the "
                             "default seed is decided; larger inputs leave some n/a, each table saying why)")
    parser.add_argument("--parity-width", type=int, default=PARITY_SIZE[1], help="input width of the parity report")
    parser.add_argument("--config", default=DEMO_CONFIG,
                        help="training config of step 3: a YAML file or a shipped name (its last stage must train "
                             "the full network)")
    parser.add_argument("--train-images", type=int, default=SCENES["train"], help="generated training scenes")
    parser.add_argument("--val-images", type=int, default=SCENES["val"], help="generated validation scenes")
    parser.add_argument("--width", type=int, default=WIDTH, help="width of the generated scenes (height: half)")


def heading(text):
    print(f"\n=== {text} ===", flush=True)


class Steps:
    """Seconds taken by each step of the demo, for its summary."""

    def __init__(self):
        self.seconds, self.started = {}, time.perf_counter()

    def run(self, name, function, *args):
        start = time.perf_counter()
        result = function(*args)
        self.seconds[name] = time.perf_counter() - start
        return result

    def total(self):
        return time.perf_counter() - self.started


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
    text, passed, tables = parity_report(weights, args.parity_height, args.parity_width, batch=2, seed=args.seed)
    print(text)
    for line in undecided(tables):
        print(line)
    return passed


def undecided(tables):
    """One line per table with n/a rows: how many, where, and why no bar decides them."""
    from parity.divergence import block_of
    lines = []
    for table in tables:
        rows = [row for row in table.rows if not row.comparable]
        if rows:
            where = "through the whole network" if table.end_to_end else \
                f"in {', '.join(dict.fromkeys(block_of(row.name) for row in rows))}"
            lines.append(f"n/a: {len(rows)} rows of \"{table.title.split(':')[0]}\" {where}: a ReLU input lies "
                         f"within float32 rounding of 0, where either framework may round it to the other side, so "
                         f"no bar applies; a smaller --parity-height/--parity-width decides them")
    return lines


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


def describe_stage(stage):
    start = {"scratch": "from scratch", "previous": "continuing the stage before",
             "previous_encoder": "from the stage before's encoder, with a fresh decoder"}.get(stage.init, "from a file")
    network = "the encoder and its 1x1 head (labels at 1/8)" if stage.network == "encoder" else "the full network"
    return f"stage {stage.number}: {network}, epochs {stage.first_epoch}-{stage.last_epoch}, {start}"


def training_step(out, root, config, args):
    """Train every stage of the config; returns (the last stage's final weights, [(description, best,
    last val mIoU)])."""
    from train.run import train_from_config
    run_dir = out / "run"
    heading(f"3. Staged training ({args.config}: height {config.height}, batch {config.batch_size}, lr0 "
            f"{config.lr0:g}) -> {run_dir}")
    for stage in config.stages:
        print(describe_stage(stage))
    replace_previous_run(run_dir)
    results = train_from_config(args.config, root, run_dir, overrides=(f"seed={args.seed}",))
    scores = [(describe_stage(stage), result.best_miou, result.last_miou)
              for stage, result in zip(config.stages, results)]
    return run_dir / config.stages[-1].name / "final.ckpt", scores


def evaluation_step(out, root, weights, height):
    """`erfnet eval` at the config's validation height (the size the network was trained for), then the
    pictures; returns what `erfnet eval` wrote to <weights>.metrics.json, or None if it failed."""
    from erfnet.cli import main
    from eval.pictures import write_demo_pictures
    from eval.report import metrics_paths
    heading(f"4. erfnet eval --weights {weights} --data {root} --height {height} --protocol full, and pictures")
    if main(["eval", "--weights", str(weights), "--data", str(root), "--height", str(height),
             "--protocol", "full"]) != 0:
        return None
    for path in write_demo_pictures(weights, root, out / "pictures", count=3, height=height):
        print(f"picture: {path}")
    return json.loads(metrics_paths(weights)[1].read_text())


def export_step(out, weights, height):
    """The trained network as ONNX for one image of the demo's size, checked with onnxruntime."""
    from convert.network import load_full_network
    from eval.export import export_network
    width = 2 * height
    path = out / ONNX_NAME
    heading(f"5. ONNX export for 1x3x{height}x{width}, loaded back with onnxruntime: {path}")
    net, _ = load_full_network(weights)
    check = export_network(net, path, "onnx", batch=1, height=height, width=width)
    print(f"onnxruntime against MindSpore on a random input: max abs error {check.max_abs_error:.2g}, relative "
          f"{check.relative_error:.2g}")
    return check


def summary(out, passed, scores, metrics, check, steps):
    lines = ["", "=== Summary ===",
             f"parity, MindSpore against PyTorch in float64: {'every row passed' if passed else 'FAILED'}"]
    lines += [f"{text}: val mIoU {last:.3f} (best {best:.3f})" for text, best, last in scores]
    if metrics is not None:
        lines.append(f"erfnet eval of the trained network on {metrics['images']} val scenes ({metrics['protocol']} "
                     f"protocol, height {metrics['height']}): mIoU {metrics['mean_iou']:.3f}")
    lines.append(f"ONNX: {check.path}, onnxruntime agrees to {check.relative_error:.1g} relative")
    lines += [f"files: {out}/run/ (per stage: checkpoints, best.ckpt, final.ckpt, metrics.jsonl), {out}/pictures/ "
              f"(side by side, IoU per class), {out}/cityscapes/ (the scenes)",
              f"time: {steps.total():.0f} s (" + ", ".join(f"{name} {seconds:.0f} s"
                                                             for name, seconds in steps.seconds.items()) + ")"]
    print("\n".join(lines))


def run(args):
    from train.config import read_config
    config = read_config(args.config, (f"seed={args.seed}",))
    if config.stages[-1].network != "full":
        raise UserError(f"{args.config}: the demo evaluates the full network; its last stage trains the "
                        f"{config.stages[-1].network}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    steps = Steps()
    passed = steps.run("parity", parity_step, out, args)
    root = steps.run("data", data_step, out, args)
    final, scores = steps.run("training", training_step, out, root, config, args)
    metrics = steps.run("evaluation and pictures", evaluation_step, out, root, final, config.validation.height)
    check = steps.run("ONNX", export_step, out, final, config.validation.height)
    summary(out, passed, scores, metrics, check, steps)
    return 0 if passed and metrics is not None else 1
