"""Training-outcome parity in full: `erfnet compare-training` on the shipped `learn` config (the full network from
scratch) and `learn_two_stage` (the encoder, then the full network from it), 3 seeds per framework,
both start modes, on 32 generated scenes of 128x64 (8 more for validation). Each comparison runs in its own
process and is resumed run by run (`compare-training --resume`): the runs that ended are kept in the repository,
`bench/results/compare_training/<case>/{mindspore,pytorch}/seed<k>/run.json`, so a later session (or a fresh
clone) goes on where the last stopped. After every case the bench writes `bench/results/compare_training.json`
and the table in docs/training-outcome-parity.md. Exits 1 if any verdict fails.

    python bench/compare_training.py                         # all four (about 4 hours on a quiet 2-core CPU)
    python bench/compare_training.py --cases learn:own --seeds 2 --out /tmp/cmp --results /tmp/cmp.json
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.outcome_table import DOCS, write_docs_table  # noqa: E402
from data.make_data import make_data  # noqa: E402
from facts.atomic import atomic_output  # noqa: E402

CONFIGS = {"learn": "learn", "two_stage": "learn_two_stage"}  # shipped config names (train/configs/)
CASES = ("learn:own", "learn:same", "two_stage:own", "two_stage:same")
SCENES = {"train": 32, "val": 8}
WIDTH = 128
RESULTS = ROOT / "bench" / "results"


def case_folder(out, case):
    name, start = case.split(":")
    return out / f"{name}_{start}"


def run_case(case, data, out, seeds):
    """Runs (or resumes) one comparison; returns its exit code (0 PASS, 1 FAIL)."""
    name, start = case.split(":")
    folder = case_folder(out, case)
    command = [sys.executable, "-m", "erfnet.cli", "compare-training", "--config", CONFIGS[name], "--data",
               str(data), "--out", str(folder), "--seeds", str(seeds), "--start", start, "--quiet", "--resume"]
    print(f"== {name} (start {start}): {' '.join(command[1:])}", flush=True)
    code = subprocess.run(command, cwd=ROOT).returncode
    if code not in (0, 1):
        raise SystemExit(f"compare-training exited with code {code} for {case}")
    return code


def read_runs(folder):
    """Every ended run of a case folder: {framework: {seed: run record}}."""
    runs = {}
    for path in sorted(folder.glob("*/seed*/run.json")):
        record = json.loads(path.read_text())
        runs.setdefault(record["framework"], {})[record["seed"]] = record
    return runs


def curve(record):
    """(stage, epoch, val mIoU) of every validated epoch of a run."""
    return [[point["stage"], point["epoch"], point["val_miou"]] for point in record["points"]
            if point["val_miou"] is not None]


def case_result(case, folder, seeds):
    """What the JSON keeps of a case: each run's final val mIoU, curve, time; the summary and verdict once every
    run has ended."""
    name, start = case.split(":")
    runs = read_runs(folder)
    result = {"config": CONFIGS[name], "start": start, "seeds_planned": seeds,
              "runs": {framework: {str(seed): {"final_val_miou": record["points"][-1]["val_miou"],
                                               "wall_seconds": record["wall_seconds"],
                                               "cpu_seconds": record["cpu_seconds"], "curve": curve(record)}
                                   for seed, record in sorted(by_seed.items())}
                       for framework, by_seed in sorted(runs.items())}}
    summary = folder / "summary.json"
    done = summary.is_file() and all(len(runs.get(framework, {})) == seeds for framework in ("mindspore", "pytorch"))
    result["complete"] = done
    if done:
        result.update(json.loads(summary.read_text()))
    return result


def machine():
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").is_file() \
        else platform.processor()
    return {"processor": model, "cores": os.cpu_count(), "python": platform.python_version(),
            "load_average_1min_at_write": round(os.getloadavg()[0], 2)}


def write_results(path, cases, out, seeds):
    import mindspore
    import torch
    results = {"date": time.strftime("%Y-%m-%d"), "machine": machine(),
               "versions": {"mindspore": mindspore.__version__, "torch": torch.__version__},
               "scenes": {**SCENES, "width": WIDTH}, "seeds": seeds,
               "cases": {case: case_result(case, case_folder(out, case), seeds) for case in cases}}
    with atomic_output(path) as temporary:
        temporary.write_text(json.dumps(results, indent=1) + "\n")
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, from {', '.join(CASES)}")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS / "compare_training",
                        help="the comparisons' folders (default: in the repository, where the ended runs' records "
                             "are kept; checkpoints and data there are not committed)")
    parser.add_argument("--results", type=Path, default=RESULTS / "compare_training.json",
                        help="the JSON written after every case; the docs table is rewritten only for the default")
    args = parser.parse_args()
    cases = args.cases.split(",")
    unknown = [case for case in cases if case not in CASES]
    if unknown:
        raise SystemExit(f"--cases: unknown {', '.join(unknown)}; choose from {', '.join(CASES)}")
    data = args.out / "scenes"
    if not data.is_dir():
        make_data(data, SCENES, WIDTH, seed=0)
    codes = []
    for case in cases:
        codes.append(run_case(case, data, args.out, args.seeds))
        results = write_results(args.results, cases, args.out, args.seeds)
        if args.results == RESULTS / "compare_training.json":
            write_docs_table(results, DOCS)
    print(f"wrote {args.results}")
    return 0 if not any(codes) else 1


if __name__ == "__main__":
    sys.exit(main())
