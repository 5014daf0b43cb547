"""Training-outcome parity in full: `erfnet compare-training` on the shipped `learn` config (the full network from
scratch) and `learn_two_stage` (the encoder, then the full network from it), 3 seeds per framework,
both start modes, on 32 generated scenes of 128x64 (8 more for validation). Each comparison runs in its own
process; the table at the end collects their summary.json files. Exits 1 if any verdict fails.

    python bench/compare_training.py                         # all four (about 2 hours on a quiet 2-core CPU)
    python bench/compare_training.py --cases learn:own --seeds 2 --out runs/bench_cmp
A case whose folder under --out already holds a summary.json is shown again, not rerun (delete it to rerun).
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from data.make_data import make_data  # noqa: E402

CONFIGS = {"learn": "learn", "two_stage": "learn_two_stage"}  # shipped config names (train/configs/)
CASES = ("learn:own", "learn:same", "two_stage:own", "two_stage:same")
SCENES = {"train": 32, "val": 8}
WIDTH = 128


def run_case(case, data, out, seeds):
    """Runs one comparison (unless its summary.json exists); returns its summary."""
    name, start = case.split(":")
    folder = out / f"{name}_{start}"
    summary = folder / "summary.json"
    if not summary.is_file():
        command = [sys.executable, "-m", "erfnet.cli", "compare-training", "--config", str(CONFIGS[name]), "--data",
                   str(data), "--out", str(folder), "--seeds", str(seeds), "--start", start, "--quiet"]
        print(f"== {name} (start {start}): {' '.join(command[1:])}", flush=True)
        code = subprocess.run(command, cwd=ROOT).returncode
        if code not in (0, 1):
            raise SystemExit(f"compare-training exited with code {code} for {case}")
    return json.loads(summary.read_text())


def row(case, summary):
    ours, reference = summary["frameworks"]["mindspore"], summary["frameworks"]["pytorch"]
    verdict = summary["verdict"]

    def score(side):
        return f"{side['mean']:.4f} ± {side['sd']:.4f}" if side["sd"] is not None else f"{side['mean']:.4f}"

    name, start = case.split(":")
    return (f"| {name} | {start} | {score(ours)} | {score(reference)} | {abs(verdict['difference']):.4f} | "
            f"{verdict['bound']:.4f} | {'PASS' if verdict['passed'] else 'FAIL'} | "
            f"{ours['images_per_s'] / reference['images_per_s']:.2f}x | "
            f"{ours['median_epoch_images_per_s'] / reference['median_epoch_images_per_s']:.2f}x | "
            f"{ours['wall_seconds'] / reference['wall_seconds']:.2f}x | "
            f"{ours['cpu_seconds'] / reference['cpu_seconds']:.2f}x |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, from {', '.join(CASES)}")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None,
                        help="keep the comparisons here (default: a temporary folder)")
    args = parser.parse_args()
    cases = args.cases.split(",")
    unknown = [case for case in cases if case not in CASES]
    if unknown:
        raise SystemExit(f"--cases: unknown {', '.join(unknown)}; choose from {', '.join(CASES)}")
    with tempfile.TemporaryDirectory() as temporary:
        out = args.out or Path(temporary)
        data = out / "scenes"
        if not data.is_dir():
            make_data(data, SCENES, WIDTH, seed=0)
        summaries = {case: run_case(case, data, out, args.seeds) for case in cases}
    print("\n| config | start | MindSpore final mIoU | PyTorch final mIoU | difference | bound | verdict | "
          "images/s MS/PT | median epoch MS/PT | wall time MS/PT | CPU time MS/PT |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for case, summary in summaries.items():
        print(row(case, summary))
    return 0 if all(summary["verdict"]["passed"] for summary in summaries.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
