"""Does training learn? The shipped learn.yaml (the full network from scratch, height 64) on 32 generated scenes,
scored on 8 others with eval.evaluate: prints val mIoU by epoch and the time taken; exits 1 below 0.6."""
import json
import sys
import tempfile
import time
from pathlib import Path

import ms_erfnet  # noqa: F401  (caps oneDNN before any MindSpore kernel runs)
import mindspore as ms

from data.make_data import make_data
from train.run import train_from_config

CONFIG = "learn"
TARGET = 0.6


def main():
    ms.set_device("CPU")
    with tempfile.TemporaryDirectory() as folder:
        root, run = Path(folder) / "scenes", Path(folder) / "run"
        make_data(root, {"train": 32, "val": 8}, 128, seed=0)
        start = time.perf_counter()
        result = train_from_config(CONFIG, root, run, quiet=True)[-1]
        seconds = time.perf_counter() - start
        lines = [json.loads(line) for line in (run / "stage1" / "metrics.jsonl").read_text().splitlines()]
    print(f"{'epoch':>5} {'loss':>8} {'val mIoU':>9} {'images/s':>9}")
    for line in lines:
        miou = "" if line["val_miou"] is None else f"{line['val_miou']:.4f}"
        print(f"{line['epoch']:>5} {line['loss']:>8.4f} {miou:>9} {line['images_per_s']:>9.1f}")
    print(f"learn.yaml: best val mIoU {result.best_miou:.4f} (target {TARGET}) in {seconds:.0f} s "
          f"({len(lines)} epochs of 32 images at 128x64)")
    return 0 if result.best_miou >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
