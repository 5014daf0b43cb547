"""Weights in and out by file type: .pth/.pth.tar/.pt are PyTorch, .ckpt is MindSpore."""
from pathlib import Path

from facts.errors import UserError

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


def target_framework(path, zoo_names):
    framework = framework_of(path)
    if zoo_names and framework != "mindspore":
        raise UserError(f"{path}: the model zoo's names are for MindSpore checkpoints (.ckpt)")
    return framework


def write_weights(weights, path, torch_prefix="module.", zoo_names=False):
    """Write `weights`; `zoo_names` writes a MindSpore checkpoint under the model zoo's names. Torch files hold
    torch-aligned weights only (see convert/realign.py)."""
    if target_framework(path, zoo_names) == "mindspore":
        from convert.ms_io import write_ms_weights
        write_ms_weights(weights, path, zoo_names)
    else:
        if weights.upsample_align != "torch":
            raise UserError(f"{path}: a PyTorch file holds torch-aligned weights only; these are "
                            f"{weights.upsample_align}-aligned (convert them with --realign)")
        from convert.torch_io import write_torch_weights
        write_torch_weights(weights, path, torch_prefix)
