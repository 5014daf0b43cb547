"""Evaluation results for people (a table) and for programs (`<weights>.metrics.txt` and `.metrics.json`).

metrics.txt has three lines: `mean_iou M`, `mean_loss L`, `iou_class v0 v1 ... v(K-1)` (class id order, `nan`
for an undefined class; on Cityscapes K = 19 trainIds). metrics.json holds `mean_iou`, `mean_loss`, `iou_class`
by class name (null when undefined), `protocol`, `height`, `images`, `split`, `images_per_second`, and
`confusion`, the pixel counts behind the scores (K rows of ground-truth classes, K + 1 columns of predictions,
the last one void).
"""
import json
import math
from pathlib import Path

from facts.atomic import atomic_output


def _number(value):
    return None if math.isnan(value) else float(value)


def metrics_paths(weights_path, folder=None):
    """(<weights>.metrics.txt, <weights>.metrics.json) in `folder`, beside the weight file when None."""
    weights_path = Path(weights_path)
    folder = weights_path.parent if folder is None else Path(folder)
    return folder / (weights_path.name + ".metrics.txt"), folder / (weights_path.name + ".metrics.json")


def metrics_text(result):
    iou = " ".join(f"{value:.6f}" for value in result.iou_class)
    return f"mean_iou {result.mean_iou:.6f}\nmean_loss {result.mean_loss:.6f}\niou_class {iou}\n"


def metrics_record(result, split):
    return {"mean_iou": _number(result.mean_iou), "mean_loss": _number(result.mean_loss),
            "iou_class": {name: _number(value) for name, value in zip(result.class_names, result.iou_class)},
            "protocol": result.protocol, "height": result.height, "images": result.images, "split": split,
            "images_per_second": result.images_per_second, "confusion": result.confusion.tolist()}


def write_metrics(result, weights_path, split, folder=None):
    """Write both metrics files (atomically) in `folder`, beside `weights_path` when None; returns their paths."""
    text_path, json_path = metrics_paths(weights_path, folder)
    with atomic_output(text_path) as temporary:
        temporary.write_text(metrics_text(result))
    with atomic_output(json_path) as temporary:
        temporary.write_text(json.dumps(metrics_record(result, split), indent=2) + "\n")
    return text_path, json_path


def _percent(value):
    return "    n/a" if math.isnan(value) else f"{100 * value:7.2f}"


def table(result, title):
    """A per-class IoU table with mIoU, weighted loss and throughput."""
    width = max(len(name) for name in result.class_names + ("weighted loss",))
    lines = [title, f"{'class':<{width}}  IoU (%)", "-" * (width + 9)]
    lines += [f"{name:<{width}}  {_percent(value)}" for name, value in zip(result.class_names, result.iou_class)]
    lines += ["-" * (width + 9), f"{'mIoU':<{width}}  {_percent(result.mean_iou)}",
              f"{'weighted loss':<{width}}  {result.mean_loss:7.4f}",
              f"{'images':<{width}}  {result.images:7d}",
              f"{'images/s':<{width}}  {result.images_per_second:7.2f}"]
    return "\n".join(lines)
