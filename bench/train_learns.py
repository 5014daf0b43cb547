"""Does training learn? Two shipped configs on generated scenes, scored on 8 others with eval.evaluate:
`learn` (the full network from scratch, height 64, 32 scenes of 128x64) and `demo` (`erfnet demo`'s staged
training: the encoder stage, then the full network from it, on the demo's scenes). Prints val mIoU by epoch and
the time taken; exits 1 when either ends below 0.6 (the demo's promise: its model segments)."""
import json
import sys
import tempfile
import time
from pathlib import Path

import mindspore as ms

from data.make_data import make_data
from erfnet.commands.demo import DEMO_CONFIG, SCENES, SEED, WIDTH
from ms_erfnet.onednn import cap_isa_where_it_helps
from train.run import train_from_config

TARGET = 0.6
RUNS = {"learn": ("learn", {"train": 32, "val": 8}, 128, 0), "demo": (DEMO_CONFIG, SCENES, WIDTH, SEED)}


def train(name, folder):
    """(last val mIoU, seconds, metrics lines of every stage) of one config trained on its scenes."""
    config, scenes, width, seed = RUNS[name]
    root, run = Path(folder) / f"{name}_scenes", Path(folder) / f"{name}_run"
    make_data(root, scenes, width, seed=seed)
    start = time.perf_counter()
    result = train_from_config(config, root, run, quiet=True, overrides=(f"seed={seed}",))[-1]
    seconds = time.perf_counter() - start
    lines = [json.loads(line) for path in sorted(run.glob("stage*/metrics.jsonl"))
             for line in path.read_text().splitlines()]
    return result.last_miou, seconds, lines


def main():
    cap_isa_where_it_helps()
    ms.set_device("CPU")
    failed = []
    with tempfile.TemporaryDirectory() as folder:
        for name in RUNS:
            miou, seconds, lines = train(name, folder)
            print(f"\n{name}: {'stage':>5} {'epoch':>5} {'loss':>8} {'val mIoU':>9} {'images/s':>9}")
            for line in lines:
                if line["val_miou"] is not None:
                    print(f"{'':{len(name) + 1}} {line['stage']:>5} {line['epoch']:>5} {line['loss']:>8.4f} "
                          f"{line['val_miou']:>9.4f} {line['images_per_s']:>9.1f}")
            print(f"{name}: final val mIoU {miou:.4f} (target {TARGET}) in {seconds:.0f} s, {len(lines)} epochs")
            if miou < TARGET:
                failed.append(name)
    if failed:
        print(f"below {TARGET}: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
