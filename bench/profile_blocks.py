"""Where the train step spends its time: each ERFNet block's forward and forward+backward (gradients of its input
and parameters, train mode), and the weighted loss at the output, in torch_ref and in ms_erfnet (MindSpore graph
mode, as training runs, or PyNative), each framework in its own process, the best of several runs.

    python bench/profile_blocks.py                       # 512x1024, batch 1, MindSpore graph and PyNative
    python bench/profile_blocks.py --size 256x512 --batch 4 --modes graph
"""
import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.speed import size_arg  # noqa: E402
from bench.timing import best_seconds  # noqa: E402

RUNNERS = {"torch": "torch", "graph": "ms-graph", "pynative": "ms-pynative"}


def torch_rows(height, width, batch, repeats):
    import torch
    import torch.nn.functional as F
    from facts.spec import class_weights
    from torch_ref import Net
    net = Net(20).train()
    blocks = [net.encoder.initial_block, *net.encoder.layers, *net.decoder.layers, net.decoder.output_conv]
    x = torch.rand(batch, 3, height, width)
    rows = []
    for block in blocks:
        inputs = x.detach().requires_grad_(True)
        upstream = torch.rand_like(block(inputs))

        def forward_backward():
            torch.autograd.grad(block(inputs), [inputs, *block.parameters()], upstream)
        rows.append((type(block).__name__, tuple(inputs.shape), best_seconds(lambda: block(inputs), repeats, warmups=2),
                     best_seconds(forward_backward, repeats, warmups=2)))
        with torch.no_grad():
            x = block(x)
    logits = torch.rand(batch, 20, height, width, requires_grad=True)
    labels, weight = torch.randint(0, 20, (batch, height, width)), torch.tensor(class_weights("full"))

    def loss():
        return F.nll_loss(F.log_softmax(logits, 1), labels, weight=weight)
    rows.append(("loss", tuple(logits.shape), best_seconds(loss, repeats, warmups=2),
                 best_seconds(lambda: torch.autograd.grad(loss(), [logits]), repeats, warmups=2)))
    return rows


def mindspore_rows(height, width, batch, repeats, mode):
    import ms_erfnet
    import mindspore as ms
    import numpy as np
    from mindspore import nn
    from ms_erfnet.loss import WeightedCrossEntropy
    from ms_erfnet.onednn import cap_isa_where_it_helps
    cap_isa_where_it_helps()
    ms.set_context(mode=ms.GRAPH_MODE if mode == "graph" else ms.PYNATIVE_MODE)

    class Forward(nn.Cell):
        def __init__(self, cell):
            super().__init__()
            self.cell = cell

        def construct(self, *inputs):
            return self.cell(*inputs)

    class ForwardBackward(nn.Cell):
        def __init__(self, cell):
            super().__init__()
            self.cell = cell
            self.grad = ms.grad(self.weighted, grad_position=0, weights=cell.trainable_params() or None)

        def weighted(self, x, upstream, *rest):
            return (self.cell(x, *rest) * upstream).sum()

        def construct(self, x, upstream, *rest):
            return self.grad(x, upstream, *rest)

    net = ms_erfnet.ERFNet(20)
    net.set_train(True)
    blocks = [net.encoder.initial_block, *net.encoder.layers, *net.decoder.layers, net.decoder.output_conv]
    rng = np.random.default_rng(0)
    x = ms.Tensor(rng.random((batch, 3, height, width), dtype=np.float32))
    rows = []

    def synced(function, *inputs):
        return lambda: (function(*inputs), ms.runtime.synchronize())

    for block in blocks:
        forward, backward = Forward(block), ForwardBackward(block)
        y = forward(x)
        upstream = ms.Tensor(rng.random(y.shape, dtype=np.float32))
        rows.append((type(block).__name__, tuple(x.shape), best_seconds(synced(forward, x), repeats, warmups=2),
                     best_seconds(synced(backward, x, upstream), repeats, warmups=2)))
        x = y
    logits = ms.Tensor(rng.random((batch, 20, height, width), dtype=np.float32))
    labels = ms.Tensor(rng.integers(0, 20, (batch, height, width)).astype(np.int32))
    loss = WeightedCrossEntropy("full")
    loss_grad = ForwardBackward(loss)
    rows.append(("loss", tuple(logits.shape), best_seconds(synced(Forward(loss), logits, labels), repeats, warmups=2),
                 best_seconds(synced(loss_grad, logits, ms.Tensor(1.0), labels), repeats, warmups=2)))
    return rows


def run_worker(runner, size, batch, repeats):
    if runner == "torch":
        rows = torch_rows(*size, batch, repeats)
    else:
        rows = mindspore_rows(*size, batch, repeats, runner)
    print(json.dumps(rows))
    return 0


def measure(runner, size, batch, repeats):
    command = [sys.executable, __file__, "--worker", runner, "--size", f"{size[0]}x{size[1]}", "--batch", str(batch),
               "--repeats", str(repeats)]
    done = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, GLOG_v="3"))
    if done.returncode != 0:
        raise SystemExit(f"{runner} failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else '?'}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(measured, modes):
    reference = measured["torch"]
    header = f"{'#':>3} {'block':<18} {'input':<18} {'torch fwd':>9} {'torch f+b':>9}"
    for mode in modes:
        header += f" {mode + ' fwd':>13} {mode + ' f+b':>13} {'x torch':>7}"
    lines = [header]
    totals = {name: [0.0, 0.0] for name in ["torch", *modes]}
    for index, (name, shape, forward, both) in enumerate(reference):
        line = f"{index:>3} {name:<18} {'x'.join(map(str, shape)):<18} {forward * 1e3:>9.1f} {both * 1e3:>9.1f}"
        totals["torch"][0] += forward
        totals["torch"][1] += both
        for mode in modes:
            _, _, ours_forward, ours_both = measured[mode][index]
            line += f" {ours_forward * 1e3:>13.1f} {ours_both * 1e3:>13.1f} {ours_both / both:>7.2f}"
            totals[mode][0] += ours_forward
            totals[mode][1] += ours_both
        lines.append(line)
    line = f"{'':>3} {'total (ms)':<18} {'':<18} {totals['torch'][0] * 1e3:>9.1f} {totals['torch'][1] * 1e3:>9.1f}"
    for mode in modes:
        line += (f" {totals[mode][0] * 1e3:>13.1f} {totals[mode][1] * 1e3:>13.1f} "
                 f"{totals[mode][1] / totals['torch'][1]:>7.2f}")
    lines.append(line)
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=size_arg, default=(512, 1024))
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--modes", nargs="+", choices=["graph", "pynative"], default=["graph", "pynative"])
    parser.add_argument("--worker", choices=list(RUNNERS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return run_worker(args.worker, args.size, args.batch, args.repeats)
    measured = {runner: measure(runner, args.size, args.batch, args.repeats) for runner in ["torch", *args.modes]}
    print(f"blocks of ERFNet, train mode, {args.size[0]}x{args.size[1]}, batch {args.batch}: milliseconds, best of "
          f"{args.repeats}; f+b = forward and backward (input and parameter gradients)")
    print(table(measured, args.modes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
