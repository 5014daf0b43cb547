"""`--runtime auto|mindspore|onnxruntime`, shared by the commands that run the network over images (eval, infer).

auto, the default, picks the runtime measured fastest for the work (docs/cli.md, "Which runtime"; the
measurement in bench/results/runtime_choice_2026-12-05.json): onnxruntime for inference on this machine's CPU in
one process at an inference height of at least ONNX_FROM_HEIGHT (batch 1: 0.82x MindSpore graph mode's time at
512x1024, 0.69x at 384x768), MindSpore everywhere else (Ascend or GPU, --devices N, and smaller heights: 1.04x at
256x512, a tie or MindSpore's). An .onnx file always runs in onnxruntime. The command's result line says which, and why.
"""
from pathlib import Path

from convert.network import load_full_network
from eval.runtime import RUNTIMES, OnnxRuntime, cache_folder
from facts.errors import UserError
from ms_erfnet.devices import resolve_device

AUTO = "auto"
ONNX_ENDING = ".onnx"
ONNX_FROM_HEIGHT = 384


def add_runtime_arguments(parser):
    parser.add_argument("--runtime", choices=(AUTO, *RUNTIMES), default=AUTO,
                        help=f"auto: onnxruntime for CPU inference in one process at --height {ONNX_FROM_HEIGHT} "
                             f"or more (measured faster there, docs/cli.md), MindSpore otherwise (Ascend/GPU, "
                             f"--devices N, smaller heights). With onnxruntime the weights are exported to ONNX once "
                             f"per input shape into {cache_folder()} ($XDG_CACHE_HOME/erfnet/onnx) and reused; an "
                             f".onnx file given as --weights is run as it is (its input shape must match the images')")


def is_onnx(path):
    return Path(path).suffix.lower() == ONNX_ENDING


def automatic(args, path):
    """(runtime, why) that --runtime auto picks for weights at `path` on args.device, args.devices and
    args.height."""
    if is_onnx(path):
        return "onnxruntime", "an .onnx file"
    if args.devices > 1:
        return "mindspore", f"--devices {args.devices}"
    target = resolve_device(args.device)
    if target != "CPU":
        return "mindspore", f"on {target}"
    if args.height < ONNX_FROM_HEIGHT:
        return "mindspore", f"CPU inference at height {args.height} (< {ONNX_FROM_HEIGHT}: MindSpore measured faster)"
    return "onnxruntime", f"CPU inference at height {args.height} (>= {ONNX_FROM_HEIGHT}: measured faster)"


def runtime_name(args, path):
    """The runtime `args` ask for with weights at `path`, refusing what cannot run: an .onnx file needs
    onnxruntime, which runs in one process on this machine's CPU."""
    runtime = automatic(args, path)[0] if args.runtime == AUTO else args.runtime
    if is_onnx(path) and runtime != "onnxruntime":
        raise UserError(f"{path}: an ONNX model runs in onnxruntime; use --runtime onnxruntime")
    if runtime == "onnxruntime" and args.devices > 1:
        raise UserError(f"onnxruntime runs in one process on this machine's CPU, using all its cores; drop "
                        f"--devices {args.devices}")
    if runtime == "onnxruntime" and args.device not in ("auto", "CPU"):
        raise UserError(f"onnxruntime runs on the CPU; drop --device {args.device} or use --runtime mindspore")
    return runtime


def runtime_said(args, path):
    """The runtime in words for the command's result line: which, and why when --runtime auto chose it."""
    if args.runtime != AUTO:
        return args.runtime
    runtime, why = automatic(args, path)
    return f"{runtime}, chosen by --runtime auto: {why}"


def open_runtime(path, runtime, batch_size):
    """What eval and infer run (an eval.predict.Predictor) in `runtime` (runtime_name's): the MindSpore network of
    the weight file `path`, or onnxruntime on its export (or on `path` itself, an .onnx file)."""
    if is_onnx(path):
        return OnnxRuntime(model=path, batch_size=batch_size)
    net, _ = load_full_network(path)
    return net if runtime == "mindspore" else OnnxRuntime(net, batch_size=batch_size)
