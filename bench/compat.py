"""The compatibility matrix: the project installed as a user installs it, beside each supported MindSpore.

One fresh venv per (Python, MindSpore) pair of facts/versions.yaml (every release on Python 3.11; the oldest and
newest on 3.10 and 3.12). In each: torch, then MindSpore, then the project from a clone of this repository's
HEAD (pip must keep that MindSpore); the fast test tier; an end-to-end flow in a folder outside the clone
(convert both ways, two-file parity, make-data, two stages of the `smoke` config, eval, infer, ONNX and MINDIR
export, one stage on 2 msrun workers); the forward output of fixed weights and the weights of the two-stage
training, kept per row and compared across rows; the forward and train-step time at 256x512 as a ratio to torch
(bench/speed.py in the same venv). Each row's venv is removed after it; a row already in the results is not
run again unless --again. Writes bench/results/compat.json and compat.md and prints the table.

    python bench/compat.py                                  # every pair (hours on 2 cores)
    python bench/compat.py --pairs 3.11:2.7.1 3.11:2.9.0    # some pairs
    python bench/compat.py --pairs 3.11:2.7.1 --skip timing fast
    python bench/compat.py --pairs 3.11:2.7.1 --reuse       # after an interruption: its venv, installed
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from facts.atomic import atomic_output  # noqa: E402
from facts.versions import supported  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "compat.json"
TABLE = ROOT / "bench" / "results" / "compat.md"
TORCH = "torch==2.13.0"  # constraints.txt's, the CPU build on this machine's disk
FORWARD_BAR = 1e-5  # the parity bar of the forward pass (parity_tests/parity/test_model_parity.py), relative to max |out|
TRAINED_BAR = 1e-3  # float32 envelope of a short training run's weights, relative to each tensor's max |w|
OPTIONAL = ("fast", "timing")  # parts --skip may leave out
STEP_TIMEOUT = 3600

FORWARD_SCRIPT = """
import sys, numpy as np, mindspore as ms
import ms_erfnet
from convert.network import load_full_network
net, _ = load_full_network(sys.argv[1])
images = np.random.default_rng(7).random((2, 3, 64, 128), dtype=np.float32)
np.save(sys.argv[2], net(ms.Tensor(images)).asnumpy())
"""
WEIGHTS_SCRIPT = """
import sys, numpy as np
from convert import read_weights
np.savez(sys.argv[2], **read_weights(sys.argv[1]).arrays)
"""
KEPT_SCRIPT = "import importlib.metadata as m, sys; v = m.version('mindspore'); print(v); sys.exit(v != sys.argv[1])"
REFERENCE_SCRIPT = """
import sys, torch
from torch_ref.random_weights import upstream_state_dict
torch.save(upstream_state_dict(20, 0), sys.argv[1])
"""


def default_pairs(versions):
    pairs = [("3.11", release) for release in versions.releases["3.11"]]
    for python in ("3.10", "3.12"):
        pairs += [(python, versions.releases[python][0]), (python, versions.releases[python][-1])]
    return pairs


def interpreter(minor):
    """A python of this minor release: on PATH, or pyenv's."""
    candidates = [shutil.which(f"python{minor}")] + sorted(
        glob.glob(os.path.expanduser(f"~/.pyenv/versions/{minor}.*/bin/python{minor}")))
    for candidate in filter(None, candidates):
        shown = subprocess.run([candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                               capture_output=True, text=True)
        if shown.returncode == 0 and shown.stdout.strip() == minor:
            return candidate
    return None


class Row:
    """One (Python, MindSpore) pair: its steps run in order until one fails; each step's output goes to a log."""

    def __init__(self, python, mindspore, work):
        self.python, self.mindspore = python, mindspore
        self.name = f"py{python}-ms{mindspore}"
        self.folder = work / self.name
        self.venv, self.flow, self.logs = self.folder / "venv", self.folder / "flow", self.folder / "logs"
        self.steps, self.failed = [], None

    def bin(self, name):
        return str(self.venv / "bin" / name)

    def step(self, name, command, cwd=None, env=None):
        """Run `command`; False (and the row is failed) when it exits non-zero."""
        if self.failed:
            return False
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"{len(self.steps):02d}-{name.replace(' ', '_')}.log"
        started = time.perf_counter()
        with open(log, "w") as out:
            try:
                code = subprocess.run([str(part) for part in command], cwd=cwd or self.flow, stdout=out,
                                      stderr=subprocess.STDOUT, env=env, timeout=STEP_TIMEOUT).returncode
            except subprocess.TimeoutExpired:
                code = "timeout"
        seconds = time.perf_counter() - started
        self.steps.append({"step": name, "seconds": round(seconds, 1), "ok": code == 0})
        print(f"  {name:<22} {'ok' if code == 0 else 'FAILED'} {seconds:7.1f} s", flush=True)
        if code != 0:
            lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
            self.failed = {"step": name, "reason": (lines or [f"exit {code}"])[-1][:300], "log": str(log)}
        return code == 0


def install(row, clone, interpreter_path):
    row.step("venv", [interpreter_path, "-m", "venv", row.venv], cwd=row.folder)
    row.step("torch", [row.bin("pip"), "install", "--quiet", TORCH], cwd=row.folder)
    row.step("mindspore", [row.bin("pip"), "install", "--quiet", f"mindspore=={row.mindspore}"], cwd=row.folder)
    row.step("project", [row.bin("pip"), "install", "--quiet", f"{clone}[test]"], cwd=row.folder)
    row.step("mindspore kept", [row.bin("python"), "-c", KEPT_SCRIPT, row.mindspore], cwd=row.folder)


def end_to_end(row, cross):
    """The user's flow in a folder outside the clone; returns the files the cross-release check compares."""
    erfnet, python = row.bin("erfnet"), row.bin("python")
    small = ["--height", "32"]
    row.step("reference weights", [python, "-c", REFERENCE_SCRIPT, "ref.pth"])
    row.step("convert to ckpt", [erfnet, "convert", "ref.pth", "ours.ckpt"])
    row.step("convert to pth", [erfnet, "convert", "ours.ckpt", "back.pth"])
    row.step("two-file parity", [erfnet, "parity", "--weights", "ours.ckpt", "--reference", "ref.pth"])
    row.step("make-data", [erfnet, "make-data", "data", "--train", "8", "--val", "4", "--width", "64"])
    row.step("train 2 stages", [erfnet, "train", "--config", "smoke", "--data", "data", "--out", "run",
                                "--stages", "3-4", "--init", "ours.ckpt", "--quiet"])
    trained = row.flow / "run" / "stage4" / "final.ckpt"
    row.step("eval", [erfnet, "eval", "--weights", trained, "--data", "data", *small, "--workers", "1"])
    row.step("infer", [erfnet, "infer", "--weights", trained, "--input", "data/leftImg8bit/val", "--out",
                       "pictures", *small])
    row.step("export onnx", [erfnet, "export", "--weights", "ours.ckpt", "--format", "onnx", "--out", "m.onnx",
                             "--height", "64", "--width", "128"])
    row.step("export mindir", [erfnet, "export", "--weights", "ours.ckpt", "--format", "mindir", "--out",
                               "m.mindir", "--height", "64", "--width", "128"])
    row.step("msrun 2 workers", [erfnet, "train", "--config", "smoke", "--data", "data", "--out", "run2",
                                 "--stages", "3", "--init", "ours.ckpt", "--devices", "2", "--quiet"])
    forward, weights = cross / f"{row.name}.forward.npy", cross / f"{row.name}.trained.npz"
    row.step("save forward", [python, "-c", FORWARD_SCRIPT, "ours.ckpt", forward])
    row.step("save trained", [python, "-c", WEIGHTS_SCRIPT, trained, weights])
    return forward, weights


def timing(row, clone):
    """Forward (batch 1) and train-step (batch 1) seconds at 256x512, MindSpore graph mode against torch."""
    if not row.step("timing 256x512", [row.bin("python"), clone / "bench" / "speed.py", "--sizes", "256x512",
                                       "--batches", "1", "--train-batches", "1", "--repeats", "3",
                                       "--runners", "torch", "ms-graph"], cwd=clone):
        return None
    rows = json.loads((clone / "bench" / "results.json").read_text())["rows"]
    return {r["work"]: {"seconds": round(r["seconds"], 3), "ratio_to_torch": round(r["ratio"], 3)}
            for r in rows if r["runner"] == "ms-graph" and "error" not in r}


def cross_release(results, cross):
    """Every row's forward output and trained weights against the first row that has them."""
    import numpy as np
    rows = [r for r in results["rows"] if (cross / f"{r['name']}.forward.npy").is_file()]
    if not rows:
        return
    base = rows[0]["name"]
    expected = np.load(cross / f"{base}.forward.npy")
    trained = dict(np.load(cross / f"{base}.trained.npz")) if (cross / f"{base}.trained.npz").is_file() else None
    for row in rows:
        check = {"against": base}
        forward = np.load(cross / f"{row['name']}.forward.npy").astype(np.float64)
        check["forward_relative"] = float(np.abs(forward - expected).max() / np.abs(expected).max())
        check["forward_ok"] = check["forward_relative"] <= FORWARD_BAR
        path = cross / f"{row['name']}.trained.npz"
        if trained is not None and path.is_file():
            ours = dict(np.load(path))
            worst = max(float(np.abs(ours[name].astype(np.float64) - value).max() / max(np.abs(value).max(), 1e-30))
                        for name, value in trained.items())
            check.update(trained_relative=worst, trained_ok=worst <= TRAINED_BAR,
                         trained_bit_identical=all(np.array_equal(ours[name], value) for name, value in trained.items()))
        row["cross_release"] = check


def left_out(row):
    parts = [{"fast": "fast tier", "timing": "timing"}[part] for part in row.get("skipped", [])]
    return f" (without {' and '.join(parts)})" if parts else ""


def table(results):
    lines = ["| Python | MindSpore | result | first failing step | time | forward / torch | train step / torch "
             "| forward vs first row | trained weights vs first row |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results["rows"]:
        failed = r.get("failed")
        speed = r.get("timing") or {}
        cross = r.get("cross_release", {})
        trained = ("bit-identical" if cross.get("trained_bit_identical") else f"{cross['trained_relative']:.1e}") \
            if "trained_relative" in cross else "-"
        lines.append(
            f"| {r['python']} | {r['mindspore']} | {'FAIL' if failed else 'pass'}{left_out(r)} | "
            f"{failed['step'] + ': ' + failed['reason'] if failed else '-'} | {r['seconds'] / 60:.1f} min | "
            f"{speed.get('forward', {}).get('ratio_to_torch', '-')} | {speed.get('train', {}).get('ratio_to_torch', '-')} | "
            f"{cross.get('forward_relative', float('nan')):.1e} | {trained} |")
    return "\n".join(lines)


def run_pair(python, mindspore, work, clone, cross, skip, reuse):
    row = Row(python, mindspore, work)
    reused = reuse and (row.venv / "bin" / "erfnet").is_file()
    shutil.rmtree(row.flow, ignore_errors=True)
    shutil.rmtree(row.logs, ignore_errors=True)
    if not reused:
        shutil.rmtree(row.folder, ignore_errors=True)
    row.flow.mkdir(parents=True)
    print(f"{row.name}:" + (" (the venv an interrupted run left)" if reused else ""), flush=True)
    started = time.perf_counter()
    found = interpreter(python)
    if found is None:
        row.failed = {"step": "python", "reason": f"no python{python} on PATH or in pyenv"}
    elif reused:
        row.step("mindspore kept", [row.bin("python"), "-c", KEPT_SCRIPT, row.mindspore], cwd=row.folder)
    else:
        install(row, clone, found)
    if "fast" not in skip:
        row.step("fast tier", [row.bin("python"), "-m", "pytest", "-p", "no:cacheprovider", "-q", "-m", "not slow",
                               "-n", "2", "--dist", "loadscope"], cwd=clone)
    end_to_end(row, cross)
    speed = None if "timing" in skip or row.failed else timing(row, clone)
    shutil.rmtree(row.venv, ignore_errors=True)  # about 2 GB
    return {"name": row.name, "python": python, "mindspore": mindspore, "failed": row.failed,
            "seconds": round(time.perf_counter() - started, 1), "steps": row.steps, "timing": speed,
            "skipped": sorted(skip), "venv_reused": reused}


def main():
    versions = supported()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", nargs="+", metavar="PYTHON:MINDSPORE",
                        help="pairs to run (default: every pair of facts/versions.yaml)")
    parser.add_argument("--skip", nargs="+", default=[], choices=OPTIONAL, help="leave out the fast tier or timing")
    parser.add_argument("--again", action="store_true", help="run pairs that already have a row again")
    parser.add_argument("--reuse", action="store_true",
                        help="use the venv an interrupted row left (installed already) instead of a fresh one")
    parser.add_argument("--work", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "erfnet-compat",
                        help="folder for the venvs (removed after each row), flows and logs")
    parser.add_argument("--outputs", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "erfnet-compat-outputs",
                        help="folder keeping each row's forward output and trained weights (about 10 MB a row), "
                             "which the cross-release check compares across runs")
    args = parser.parse_args()
    pairs = [tuple(pair.split(":")) for pair in args.pairs] if args.pairs else default_pairs(versions)
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {"rows": []}
    clone, cross = args.work / "clone", args.outputs
    cross.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(clone, ignore_errors=True)
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    for python, mindspore in pairs:
        done = {(r["python"], r["mindspore"]) for r in results["rows"]}
        if (python, mindspore) in done and not args.again:
            print(f"py{python}-ms{mindspore}: already in {RESULTS}, not run again (--again runs it)")
            continue
        row = run_pair(python, mindspore, args.work, clone, cross, set(args.skip), args.reuse)
        results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else results  # rows another run added
        results["rows"] = [r for r in results["rows"] if (r["python"], r["mindspore"]) != (python, mindspore)]
        results["rows"].append(row)
        results["rows"].sort(key=lambda r: (r["python"], [int(part) for part in r["mindspore"].split(".")]))
        cross_release(results, cross)
        with atomic_output(RESULTS) as temporary:
            temporary.write_text(json.dumps(results, indent=1))
        with atomic_output(TABLE) as temporary:
            temporary.write_text(table(results) + "\n")
    print(table(results))
    return 1 if any(r["failed"] for r in results["rows"]) else 0


if __name__ == "__main__":
    sys.exit(main())
