"""`--runtime mindspore|onnxruntime`, shared by the commands that run the network over images (eval, infer)."""
from pathlib import Path

from convert.network import load_full_network
from eval.runtime import RUNTIMES, OnnxRuntime, cache_folder
from facts.errors import UserError

ONNX_ENDING = ".onnx"


def add_runtime_arguments(parser):
    parser.add_argument("--runtime", choices=RUNTIMES, default=None,
                        help="mindspore (the default), or onnxruntime (the fastest CPU inference measured at 512x1024, "
                             "README 'Speed'): the weights are exported to ONNX once per input shape into "
                             f"{cache_folder()} ($XDG_CACHE_HOME/erfnet/onnx) and reused; an .onnx file given as "
                             "--weights is run as it is (its input shape must match the images')")


def runtime_name(args, path):
    """The runtime `args` ask for with weights at `path`: an .onnx file needs onnxruntime, which runs in one
    process on this machine's CPU."""
    onnx_file = Path(path).suffix.lower() == ONNX_ENDING
    runtime = args.runtime or ("onnxruntime" if onnx_file else "mindspore")
    if onnx_file and runtime != "onnxruntime":
        raise UserError(f"{path}: an ONNX model runs in onnxruntime; use --runtime onnxruntime")
    if runtime == "onnxruntime" and args.devices > 1:
        raise UserError(f"--runtime onnxruntime runs in one process on this machine's CPU, using all its cores; "
                        f"drop --devices {args.devices}")
    if runtime == "onnxruntime" and args.device not in ("auto", "CPU"):
        raise UserError(f"--runtime onnxruntime runs on the CPU; drop --device {args.device} or use --runtime "
                        f"mindspore")
    return runtime


def open_runtime(args, path):
    """What eval and infer run (eval.runtime): the MindSpore network of the weight file `path`, or onnxruntime
    on its export (or on `path` itself, an .onnx file)."""
    runtime = runtime_name(args, path)
    if Path(path).suffix.lower() == ONNX_ENDING:
        return OnnxRuntime(model=path, batch_size=args.batch_size)
    net, _ = load_full_network(path)
    return net if runtime == "mindspore" else OnnxRuntime(net, batch_size=args.batch_size)
