"""Weights in and out by file type: .pth/.pth.tar/.pt are PyTorch, .ckpt is MindSpore."""
from pathlib import Path

from erfnet.errors import UserError

TORCH_ENDINGS = (".pth", ".pth.tar", ".pt", ".tar")
MS_ENDINGS = (".ckpt",)


def framework_of(path):
    name = Path(path).name.lower()
    if name.endswith(MS_ENDINGS):
        return "mindspore"
    if name.endswith(TORCH_ENDINGS):
        return "torch"
    raise UserError(f"{path}: unknown file type; use .pth, .pth.tar or .pt (PyTorch) or .ckpt (MindSpore)")


def read_weights(path):
    """Any ERFNet weight file this project reads, as `convert.weights.Weights`."""
    if not Path(path).is_file():
        raise UserError(f"{path}: no such file")
    if framework_of(path) == "mindspore":
        from convert.ms_io import read_ms_weights
        return read_ms_weights(path)
    from convert.torch_io import read_torch_weights
    return read_torch_weights(path)


def write_weights(weights, path, torch_prefix="module."):
    if framework_of(path) == "mindspore":
        from convert.ms_io import write_ms_weights
        write_ms_weights(weights, path)
    else:
        from convert.torch_io import write_torch_weights
        write_torch_weights(weights, path, torch_prefix)


def convert_file(source, target, torch_prefix="module."):
    """Read `source`, check it strictly, write `target`; returns the Weights (with notes). Nothing is written
    when the source has any problem."""
    framework_of(target)
    weights = read_weights(source)
    write_weights(weights, target, torch_prefix)
    return weights
