"""The two runtimes of `erfnet eval/infer` on the same pictures: MindSpore and onnxruntime (eval.runtime), one
ERFNet with the test suite's random weights (torch_ref.random_weights, read as `erfnet eval` reads a .pth),
generated 2048x1024 street scenes evaluated at height 512.

Prints the mIoU of both protocols in each runtime and their difference, the largest logit difference, and the
pixels whose class differs at full resolution (as `erfnet infer` writes them), with MindSpore's margin between
its two best classes there: a pixel can change class only where that margin is below twice the logit difference.
Usage: python bench/runtimes.py [--images 4]
"""
import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mindspore as ms  # noqa: E402
import torch  # noqa: E402
import mindspore.ops as ops  # noqa: E402
from convert.network import load_full_network  # noqa: E402
from data.cityscapes import find_samples, read_image  # noqa: E402
from data.make_data import make_data  # noqa: E402
from eval.evaluate import evaluate  # noqa: E402
from eval.predict import image_tensor, logits  # noqa: E402
from ms_erfnet.onednn import cap_isa_where_it_helps  # noqa: E402
from eval.runtime import OnnxRuntime  # noqa: E402
from torch_ref.random_weights import random_reference_net  # noqa: E402

HEIGHT = 512


def native_scores(runtime, photo):
    scores = logits(runtime, image_tensor(photo, HEIGHT)[None])
    return ops.interpolate(scores, size=photo.shape[:2], mode="bilinear", align_corners=False).asnumpy()[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4, help="generated val scenes (2048x1024)")
    args = parser.parse_args()
    cap_isa_where_it_helps()
    ms.set_context(mode=ms.GRAPH_MODE)
    with tempfile.TemporaryDirectory() as folder:
        torch.save(random_reference_net(20, 3).state_dict(), Path(folder) / "erfnet.pth")
        net, _ = load_full_network(Path(folder) / "erfnet.pth")
        net.set_train(False)
        root = Path(folder) / "data"
        make_data(root, {"train": 0, "val": args.images}, 2048, seed=0)
        onnx = OnnxRuntime(net, cache=Path(folder) / "cache")
        print(f"{args.images} generated 2048x1024 scenes at height {HEIGHT}, random weights (seed 3)")
        print("| protocol | mIoU MindSpore | mIoU onnxruntime | difference |\n|---|---|---|---|")
        for protocol in ("pytorch", "full"):
            ours, theirs = (evaluate(runtime, root, "val", HEIGHT, protocol, quiet=True) for runtime in (net, onnx))
            print(f"| {protocol} | {ours.mean_iou:.6f} | {theirs.mean_iou:.6f} | "
                  f"{abs(ours.mean_iou - theirs.mean_iou):.1e} |")
        pixels = differing = 0
        largest_difference, largest_scale, margins = 0.0, 0.0, []
        for sample in find_samples(root, "val"):
            photo = read_image(sample.image_path)
            expected, other = (native_scores(runtime, photo).astype(np.float64) for runtime in (net, onnx))
            largest_difference = max(largest_difference, float(np.abs(expected - other).max()))
            largest_scale = max(largest_scale, float(np.abs(expected).max()))
            ours, theirs = expected.argmax(0), other.argmax(0)
            rows, columns = np.nonzero(ours != theirs)
            margins.extend(expected[ours[rows, columns], rows, columns] - expected[theirs[rows, columns], rows, columns])
            pixels += ours.size
            differing += len(rows)
        print(f"\nlogits: largest |onnxruntime - MindSpore| {largest_difference:.2e} "
              f"({largest_difference / largest_scale:.1e} of the largest logit {largest_scale:.2f})")
        print(f"full-resolution classes: {differing} of {pixels} pixels differ ({differing / pixels:.1e}); "
              f"MindSpore's margin there at most {max(margins, default=0.0):.2e} "
              f"(bound: 2 x the logit difference = {2 * largest_difference:.2e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
