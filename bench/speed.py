"""Speed of ms_erfnet against torch_ref on this machine: forward (eval mode) at 512x1024 and 256x512, batch 1
and 4, and a full train step (weighted loss, backward, Adam) at batch 1, 4 and 6 (the recipe's). Every
measurement runs in its own process: warm-up, then the median of several runs, and that process's peak memory.
MindSpore runs in graph and PyNative mode; the forward also runs in onnxruntime on the network exported as
`erfnet eval/infer --runtime onnxruntime` exports it (eval.runtime; the export is in "first s" and its memory in
"peak MB"). The table gives the ratio to torch, the GFLOP/s achieved and its share of this machine's fp32 GEMM
peak (measured in the same run); results go to bench/results/speed.json.

    python bench/speed.py                      # the whole table (about 25 minutes on 2 cores)
    python bench/speed.py --sizes 256x512 --batches 1 --train-batches 1 --repeats 3
    python bench/speed.py --works train --sizes 512x1024 --train-batches 6 --runners torch ms-graph
    python bench/speed.py --device Ascend      # MindSpore only: images/s per card
"""
import argparse
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.timing import best_seconds  # noqa: E402
from facts.atomic import atomic_output  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "speed.json"
RUNNERS = {"forward": ("torch", "ms-graph", "ms-pynative", "onnxruntime"), "train": ("torch", "ms-graph", "ms-pynative")}


def forward_macs(height, width):
    """Multiply-accumulates of one forward of torch_ref.Net(20) at height x width, counted from its convs."""
    import torch
    from torch_ref import Net
    total = []

    def count(module, inputs, output):
        kernel = module.weight.shape[2] * module.weight.shape[3]
        if isinstance(module, torch.nn.ConvTranspose2d):
            total.append(inputs[0].numel() * module.out_channels * kernel)
        else:
            total.append(output.numel() * module.in_channels * kernel)

    net = Net(20).eval()
    for module in net.modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            module.register_forward_hook(count)
    with torch.no_grad():
        net(torch.zeros(1, 3, height, width))
    return sum(total)


def gemm_peak_gflops(size=2048, repeats=10):
    """This machine's practical fp32 GEMM peak: the faster of PyTorch's two GEMM libraries, MKL (torch.mm) and
    oneDNN (a 1x1 convolution is a GEMM). MKL does not use AVX-512 on AMD CPUs; oneDNN does."""
    import torch
    a, b = torch.rand(size, size), torch.rand(size, size)
    mkl = 2 * size ** 3 / best_seconds(lambda: torch.mm(a, b), repeats) / 1e9
    side = 32
    conv = torch.nn.Conv2d(size, size, 1, bias=False).eval()
    images = torch.rand(1, size, side, side)
    with torch.no_grad():
        onednn = 2 * size * size * side * side / best_seconds(lambda: conv(images), repeats) / 1e9
    return max(mkl, onednn)


def cpu_name(cpuinfo=Path("/proc/cpuinfo")):
    try:
        line = next(line for line in cpuinfo.read_text().splitlines() if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()
    return line.partition(":")[2].strip()


def torch_worker(work, height, width, batch, repeats):
    import torch
    import torch.nn.functional as F
    from facts.spec import class_weights
    from torch_ref import Net
    net = Net(20)
    images = torch.rand(batch, 3, height, width)
    if work == "forward":
        net.eval()

        def step():
            with torch.no_grad():
                net(images)
    else:
        net.train()
        labels = torch.randint(0, 20, (batch, height, width))
        weight = torch.tensor(class_weights("full"))
        optimizer = torch.optim.Adam(net.parameters(), 5e-4, (0.9, 0.999), eps=1e-8, weight_decay=1e-4)

        def step():
            optimizer.zero_grad()
            F.nll_loss(F.log_softmax(net(images), 1), labels, weight=weight).backward()
            optimizer.step()
    return timed(step, repeats)


def ms_worker(work, mode, device, height, width, batch, repeats):
    import ms_erfnet
    import mindspore as ms
    import numpy as np
    from convert.network import build_network
    from ms_erfnet.onednn import cap_isa_where_it_helps
    from train.optim import make_adam, trained_parameters
    from train.step import TrainStep
    cap_isa_where_it_helps()
    ms.set_device(device)
    ms.set_context(mode=ms.GRAPH_MODE if mode == "graph" else ms.PYNATIVE_MODE)
    generator = np.random.default_rng(0)
    images = ms.Tensor(generator.random((batch, 3, height, width), dtype=np.float32))
    if work == "forward":
        net = ms_erfnet.ERFNet(20)
        net.set_train(False)

        def step():
            net(images).asnumpy()
    else:
        net, _ = build_network(20, dropout_seed=0)
        labels = ms.Tensor(generator.integers(0, 20, (batch, height, width)).astype(np.int32))
        train_step = TrainStep(net, make_adam(trained_parameters(net, "full"), 5e-4, 1e-4), "full",
                               dropout=net.dropout_randomness)

        def step():
            train_step(images, labels)
    return timed(step, repeats)


def onnx_worker(height, width, batch, repeats):
    import tempfile

    import ms_erfnet
    import mindspore as ms
    import numpy as np
    from eval.runtime import OnnxRuntime
    from ms_erfnet.onednn import cap_isa_where_it_helps
    cap_isa_where_it_helps()
    ms.set_context(mode=ms.GRAPH_MODE)
    images = np.random.default_rng(0).random((batch, 3, height, width), dtype=np.float32)
    with tempfile.TemporaryDirectory() as cache:
        runtime = OnnxRuntime(ms_erfnet.ERFNet(20), batch_size=batch, cache=cache)
        return timed(lambda: runtime(images).asnumpy(), repeats)


def timed(step, repeats):
    start = time.perf_counter()
    step()
    first = time.perf_counter() - start
    step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return {"seconds": statistics.median(times), "first_call_seconds": first,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_worker(args):
    height, width = args.size
    if args.runner == "torch":
        result = torch_worker(args.work, height, width, args.batch, args.repeats)
    elif args.runner == "onnxruntime":
        result = onnx_worker(height, width, args.batch, args.repeats)
    else:
        result = ms_worker(args.work, args.runner.split("-")[1], args.device, height, width, args.batch, args.repeats)
    print(json.dumps(result))
    return 0


def measure(runner, work, size, batch, repeats, device):
    command = [sys.executable, __file__, "--worker", runner, work, f"{size[0]}x{size[1]}", str(batch),
               "--repeats", str(repeats), "--device", device]
    done = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, GLOG_v="3"))
    if done.returncode != 0:
        return {"error": error_line(done.stderr)}
    return json.loads(done.stdout.strip().splitlines()[-1])


def error_line(stderr):
    """The exception a failed worker raised (MindSpore follows it with pages of C++ context), or its last line."""
    raised = [line for line in stderr.splitlines() if re.match(r"\w+(Error|Exception)\b", line)]
    return (raised or stderr.strip().splitlines() or ["failed"])[-1][:200]


def check_device(device):
    """One line and exit 2 when MindSpore has no such device here: every row would fail the same way."""
    if device != "CPU":
        import mindspore as ms
        if not ms.hal.is_available(device):
            print(f"bench/speed.py: MindSpore finds no {device} device on this machine", file=sys.stderr)
            sys.exit(2)


def size_arg(text):
    height, _, width = text.partition("x")
    if not (height.isdigit() and width.isdigit()) or int(height) % 8 or int(width) % 8:
        raise argparse.ArgumentTypeError(f"{text!r}: expected HxW, multiples of 8")
    return int(height), int(width)


def share(gflops, peak):
    return f"{100 * gflops / peak:.1f}%" if peak else "-"


def table(rows, peak):
    """Rows as text; `peak` (GFLOP/s) is None where the CPU's GEMM peak says nothing (accelerators)."""
    lines = [f"{'work':<8} {'size':>9} {'batch':>5} {'runner':<12} {'s/iter':>8} {'images/s':>9} {'x torch':>8} "
             f"{'GFLOP/s':>8} {'% peak':>7} {'peak MB':>8} {'first s':>8}"]
    for r in rows:
        if "error" in r:
            lines.append(f"{r['work']:<8} {r['size']:>9} {r['batch']:>5} {r['runner']:<12} error: {r['error']}")
            continue
        ratio = f"{r['ratio']:.2f}" if r.get("ratio") else "-"
        lines.append(f"{r['work']:<8} {r['size']:>9} {r['batch']:>5} {r['runner']:<12} {r['seconds']:>8.3f} "
                     f"{r['images_per_s']:>9.2f} {ratio:>8} {r['gflops']:>8.1f} {share(r['gflops'], peak):>7} "
                     f"{r['peak_mb']:>8.0f} {r['first_call_seconds']:>8.2f}")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=size_arg, nargs="+", default=[(512, 1024), (256, 512)])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4], help="forward batch sizes")
    parser.add_argument("--train-batches", type=int, nargs="+", default=[1, 4, 6],
                        help="train step batch sizes (6: the recipe's, train/configs)")
    parser.add_argument("--works", nargs="+", choices=list(RUNNERS), default=list(RUNNERS))
    parser.add_argument("--runners", nargs="+", choices=RUNNERS["forward"], default=RUNNERS["forward"],
                        help="the runners to measure (torch rows give the ratios)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs after two warm-up runs; median kept")
    parser.add_argument("--device", default="CPU", choices=["CPU", "Ascend", "GPU"])
    parser.add_argument("--worker", nargs=4, metavar=("RUNNER", "WORK", "SIZE", "BATCH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        runner, work, size, batch = args.worker
        return run_worker(argparse.Namespace(runner=runner, work=work, size=size_arg(size), batch=int(batch),
                                             repeats=args.repeats, device=args.device))
    check_device(args.device)
    if args.device == "CPU":
        peak = gemm_peak_gflops()
        print(f"{cpu_name()}, {os.cpu_count()} cores; fp32 GEMM peak {peak:.1f} GFLOP/s", flush=True)
    else:
        peak = None
        print(f"MindSpore on {args.device}, one card; images/s is per card", flush=True)
    rows = []
    for work in args.works:
        runners = [runner for runner in RUNNERS[work] if runner in args.runners
                   and (args.device == "CPU" or runner.startswith("ms-"))]
        for size in args.sizes:
            macs = forward_macs(*size)
            for batch in args.batches if work == "forward" else args.train_batches:
                reference = None
                for runner in runners:
                    result = measure(runner, work, size, batch, args.repeats, args.device)
                    row = dict(result, work=work, size=f"{size[0]}x{size[1]}", batch=batch, runner=runner)
                    if "error" not in row:
                        flops = 2 * macs * batch * (3 if work == "train" else 1)
                        row.update(images_per_s=batch / row["seconds"], gflops=flops / row["seconds"] / 1e9)
                        if runner == "torch":
                            reference = row["seconds"]
                        row["ratio"] = row["seconds"] / reference if reference else None
                    rows.append(row)
                    print(table([row], peak).splitlines()[-1], flush=True)
    print()
    print(table(rows, peak))
    results = {"machine": {"processor": cpu_name(), "cores": os.cpu_count(), "gemm_peak_gflops": peak,
                           "device": args.device},
               "forward_macs_512x1024": forward_macs(512, 1024), "rows": rows}
    with atomic_output(RESULTS) as temporary:
        temporary.write_text(json.dumps(results, indent=1))
    print(f"\nwrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
