"""`erfnet eval`: score weights (one file, or every weight file in a folder) on a Cityscapes split."""
import logging
import math
from pathlib import Path

from convert.api import MS_ENDINGS, TORCH_ENDINGS
from convert.network import load_full_network
from eval.evaluate import PROTOCOLS, evaluate
from eval.report import table, write_metrics
from facts.errors import UserError
from ms_erfnet.execution import use_graph_mode

log = logging.getLogger(__name__)


def add_arguments(parser):
    parser.add_argument("--weights", type=Path, required=True,
                        help="a MindSpore .ckpt or PyTorch .pth/.pth.tar/.pt file, or a folder: every weight file "
                             "in it is evaluated and the best named")
    parser.add_argument("--data", type=Path, required=True, help="Cityscapes root (leftImg8bit/, gtFine/)")
    parser.add_argument("--split", default="val", help="split to score")
    parser.add_argument("--height", type=int, default=512, help="inference height H (multiple of 8); the width "
                        "follows the aspect ratio")
    parser.add_argument("--protocol", choices=PROTOCOLS, default="pytorch",
                        help="pytorch: labels nearest-resized to H (erfnet_pytorch, the zoo port); full: "
                             "predictions upsampled to the labels' native resolution (the paper, the official "
                             "evaluator)")
    parser.add_argument("--batch-size", type=int, default=1, help="images per forward pass")
    parser.add_argument("--workers", type=int, default=2, help="threads reading and resizing images")


def weight_files(path):
    """The weight files to evaluate: the file itself, or a folder's weight files in name order."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise UserError(f"{path}: no such file or folder")
    found = sorted(file for file in path.iterdir()
                   if file.is_file() and file.name.lower().endswith(MS_ENDINGS + TORCH_ENDINGS))
    if not found:
        raise UserError(f"{path}: no weight files (.ckpt, .pth, .pth.tar, .pt) in this folder")
    return found


def run(args):
    use_graph_mode()
    files = weight_files(args.weights)
    scores = {}
    for file in files:
        try:
            net, _ = load_full_network(file)
        except UserError as error:
            if len(files) == 1:
                raise
            log.warning(f"skipping {file}: {error}")
            continue
        result = evaluate(net, args.data, args.split, args.height, args.protocol, args.batch_size, args.workers)
        print(table(result, f"{file} on {args.data} {args.split} ({args.protocol} protocol, height {args.height})"))
        text_path, json_path = write_metrics(result, file, args.split)
        print(f"wrote {text_path} and {json_path}")
        scores[file] = result.mean_iou
    if not scores:
        raise UserError(f"{args.weights}: none of its weight files could be evaluated")
    if len(files) > 1:
        best = max(scores, key=lambda file: -math.inf if math.isnan(scores[file]) else scores[file])
        print(f"best: {best} (mIoU {100 * scores[best]:.2f}%) of {len(scores)} evaluated")
    return 0
