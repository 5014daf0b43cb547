"""`erfnet eval`: score weights (one file, or every weight file in a folder) on a Cityscapes split, on one device
or on N workers (msrun) that each score a shard of the split."""
import logging
import math
from pathlib import Path

from convert.api import MS_ENDINGS, TORCH_ENDINGS
from convert.network import full_network_weights
from data.layout import find_samples
from erfnet.command_line import again
from erfnet.launch import add_device_arguments, join_devices, launch, launches
from erfnet.commands.runtime_choice import add_runtime_arguments, open_runtime, runtime_name, runtime_said
from eval.evaluate import PROTOCOLS, check_settings, evaluate
from eval.report import table, write_metrics
from facts.atomic import check_folder_writable, is_temporary
from facts.errors import UserError
from ms_erfnet.devices import LAUNCHER_LOGS
from ms_erfnet.execution import use_graph_mode

log = logging.getLogger(__name__)



def add_arguments(parser):
    parser.add_argument("--weights", type=Path, required=True,
                        help="a MindSpore .ckpt or PyTorch .pth/.pth.tar/.pt file, an .onnx file (run by onnxruntime), "
                             "or a folder: every weight file in it is evaluated and the best named")
    parser.add_argument("--data", type=Path, required=True,
                        help="dataset root: Cityscapes' (leftImg8bit/, gtFine/) or one's own folders (images/, "
                             "labels/, classes.yaml: docs/own-data.md)")
    parser.add_argument("--split", default="val", help="split to score")
    parser.add_argument("--height", type=int, default=512, help="inference height H (multiple of 8); the width "
                        "follows the aspect ratio")
    parser.add_argument("--protocol", choices=PROTOCOLS, default="pytorch",
                        help="pytorch: labels nearest-resized to H (erfnet_pytorch, the zoo port); full: "
                             "predictions upsampled to the labels' native resolution (the paper, the official "
                             "evaluator)")
    parser.add_argument("--batch-size", type=int, default=1, help="images per forward pass")
    parser.add_argument("--workers", type=int, default=2, help="threads reading and resizing images")
    parser.add_argument("--metrics-out", type=Path, default=None,
                        help="folder for the <weights>.metrics.txt/.json files; beside the weights when not given")
    parser.add_argument("--skip-bad", action="store_true",
                        help="leave out unusable samples (missing partner, unreadable PNG, size mismatch, label "
                             "values outside the table), each named on stderr, instead of stopping")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_runtime_arguments(parser)
    add_device_arguments(parser, workers="each scores its shard of the split, the confusion matrices are summed, "
                                         f"rank 0 prints and writes the metrics (worker logs in {LAUNCHER_LOGS}/ beside "
                                         "the metrics files)")


def weight_files(path):
    """The weight files to evaluate: the file itself, or a folder's weight files in name order (leaving out the
    temporaries of a write in progress or interrupted, facts.atomic)."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise UserError(f"{path}: no such file or folder")
    found = sorted(file for file in path.iterdir() if file.is_file() and not is_temporary(file)
                   and file.name.lower().endswith(MS_ENDINGS + TORCH_ENDINGS))
    if not found:
        raise UserError(f"{path}: no weight files (.ckpt, .pth, .pth.tar, .pt) in this folder")
    return found


def check_metrics_folders(files, metrics_out):
    """Every folder the metrics files will be written to can be written, checked before any scoring."""
    if metrics_out is not None:
        check_folder_writable(metrics_out)
        return
    for folder in sorted({file.parent for file in files}):
        try:
            check_folder_writable(folder)
        except UserError as error:
            raise UserError(f"{error}: the metrics files go beside the weights; give --metrics-out DIR") from None


def launch_evaluation(args, files):
    """Check what the workers would refuse (errors before any worker starts), then run this command under msrun."""
    check_settings(args.protocol, args.height, args.batch_size)
    find_samples(args.data, args.split, verify=False)
    if len(files) == 1:
        full_network_weights(files[0])
    folder = args.metrics_out or (args.weights if args.weights.is_dir() else args.weights.parent)
    return launch(args, folder / LAUNCHER_LOGS)


def run(args):
    if args.workers < 1:
        raise UserError(f"--workers {args.workers}: must be at least 1")
    files = weight_files(args.weights)
    check_metrics_folders(files, args.metrics_out)
    runtime = runtime_name(args, args.weights)
    if launches(args):
        return launch_evaluation(args, files)
    devices = join_devices(args)
    use_graph_mode()
    scores = {}
    for file in files:
        try:
            net = open_runtime(file, runtime, args.batch_size)
        except UserError as error:
            if len(files) == 1:
                raise
            if devices.is_writer:
                log.warning(f"skipping {file}: {error}")
            continue
        result = evaluate(net, args.data, args.split, args.height, args.protocol, args.batch_size, args.workers,
                          quiet=args.quiet or not devices.is_writer, devices=devices,
                          skip_bad=args.skip_bad)
        if devices.is_writer:
            print(table(result, f"{file} on {args.data} {args.split} ({args.protocol} protocol, height {args.height}"
                                f"{f', {devices.size} workers' if devices.data_parallel else ''}, "
                                f"{runtime_said(args, file)})"))
            text_path, json_path = write_metrics(result, file, args.split, args.metrics_out)
            print(f"wrote {text_path} and {json_path}", flush=True)
        scores[file] = result.mean_iou
    if not scores:
        raise UserError(f"{args.weights}: none of its weight files could be evaluated")
    if len(files) > 1 and devices.is_writer:
        best = max(scores, key=lambda file: -math.inf if math.isnan(scores[file]) else scores[file])
        print(f"best: {best} (mIoU {100 * scores[best]:.2f}%) of {len(scores)} evaluated")
    return 0


def after_interrupt(args):
    """What Ctrl-C leaves: the metrics files of the weights scored before it (each written whole), none of the
    one being scored."""
    folder = args.metrics_out or (args.weights if args.weights.is_dir() else args.weights.parent)
    written = sorted(folder.glob("*.metrics.json")) if folder.is_dir() else []
    kept = f"{len(written)} metrics file(s) in {folder}, each whole" if written else "no metrics were written"
    return f"{kept}; score again with: {again(args.argv)}"
