"""The IoU metric: ours (one int64 bincount into a 19x20 confusion matrix, eval.metrics) vs the way
erfnet_pytorch's iouEval counts (B x 20 x H x W float one-hot tensors for prediction and label, products and
sums), measured in the same run on the same random class maps, with a check that both give the same IoU.

Prints a markdown table: milliseconds per batch (best of rounds), the ratio, and the bytes each method
allocates for its intermediate arrays. Usage: python bench/eval_metric.py [--rounds R]
"""
import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.timing import best_seconds  # noqa: E402
from eval.metrics import class_iou, confusion_matrix  # noqa: E402

VOID = 19
CASES = (("pytorch protocol, batch 4 at 512x1024", 4, 512, 1024), ("full protocol, 1 image at 1024x2048", 1, 1024, 2048))


def one_hot_iou(prediction, label):
    """TP/FP/FN from one-hot float tensors with the void channel dropped, void ground truth ignored."""
    x = torch.zeros(prediction.shape[0], VOID + 1, *prediction.shape[1:]).scatter_(1, prediction.unsqueeze(1), 1)
    y = torch.zeros(label.shape[0], VOID + 1, *label.shape[1:]).scatter_(1, label.unsqueeze(1), 1)
    ignored = y[:, VOID:VOID + 1]
    x, y = x[:, :VOID], y[:, :VOID]
    tp = (x * y).sum(dim=(0, 2, 3))
    fp = (x * (1 - y - ignored)).sum(dim=(0, 2, 3))
    fn = ((1 - x) * y).sum(dim=(0, 2, 3))
    union = (tp + fp + fn).double()
    return torch.where(union > 0, tp.double() / union.clamp(min=1), torch.nan).numpy()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="timed repetitions per method (best is shown)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print("| case | ours: bincount (ms) | one-hot floats (ms) | one-hot / ours | ours: extra bytes | one-hot bytes |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, batch, height, width in CASES:
        label = rng.integers(0, VOID + 1, size=(batch, height, width)).astype(np.uint8)
        prediction = np.where(rng.random(label.shape) < 0.7, label, rng.integers(0, VOID + 1, size=label.shape))
        prediction = prediction.astype(np.uint8)
        confusion = confusion_matrix(prediction, label)
        ours_seconds = best_seconds(lambda: confusion_matrix(prediction, label), args.rounds, warmups=0)
        torch_prediction = torch.from_numpy(prediction.astype(np.int64))
        torch_label = torch.from_numpy(label.astype(np.int64))
        theirs = one_hot_iou(torch_prediction, torch_label)
        theirs_seconds = best_seconds(lambda: one_hot_iou(torch_prediction, torch_label), args.rounds, warmups=0)
        np.testing.assert_allclose(class_iou(confusion), theirs, rtol=1e-6, equal_nan=True)
        pixels = batch * height * width
        ours_bytes = pixels * (1 + 8)  # the valid mask and the int64 cell index of each valid pixel, at most
        theirs_bytes = 2 * pixels * (VOID + 1) * 4  # two float32 one-hot tensors, before products
        print(f"| {name} | {1000 * ours_seconds:.0f} | {1000 * theirs_seconds:.0f} | "
              f"{theirs_seconds / ours_seconds:.1f}x | {ours_bytes / 2**20:.0f} MiB | {theirs_bytes / 2**20:.0f} MiB |")


if __name__ == "__main__":
    main()
