"""Porting faults planted in a correct (REF, OURS) pair, each with the block where two-file parity must report it.

REF is erfnet_pytorch-format random weights (random BatchNorm statistics too), OURS their conversion by `erfnet
convert`. A weight fault changes OURS's tensors; a model-level fault changes how the MindSpore network is built
(ms_erfnet.blocks or ms_erfnet.model patched while the pair is compared), the weights staying right. `computes_differently`: the
layer-by-layer tables must fail in that block too (an extra tensor that nothing loads changes no computation).
Add a row whenever a new fault class is found. From the repository,
`PYTHONPATH=parity_tests python -m helpers.fault_catalogue` prints the docs/parity.md table.
"""
import dataclasses
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import mindspore as ms
import mindspore.nn as nn
import numpy as np
import pytest

import ms_erfnet.blocks
import ms_erfnet.model
from parity.weight_table import Stored

SIZE = {"height": 16, "width": 32, "batch": 2, "seed": 0}
EVERY_FAULT = {**SIZE, "end_to_end": False}  # the rows through the whole network name no block


@dataclass(frozen=True)
class Fault:
    name: str
    block: str                   # the block the first divergence must name
    words: str                   # what its reason must say
    tensors: object = None       # OURS tensors (name -> Stored) -> OURS tensors with the fault
    upsample_align: str = None   # OURS's alignment, when the fault is a different one
    model: object = None         # monkeypatch -> None: builds the MindSpore network with the fault
    computes_differently: bool = True


def replaced(tensors, arrays):
    """`tensors` with new values (name -> array) under the names given; None removes a tensor."""
    changed = dict(tensors)
    for name, array in arrays.items():
        if array is None:
            del changed[name]
        else:
            old = changed.get(name)
            changed[name] = Stored(old.key if old else name, np.asarray(array, np.float64),
                                   old.dtype if old else "float32")
    return changed


def exchanged(tensors, first, second, transform=lambda a: a):
    return replaced(tensors, {first: transform(tensors[second].array), second: transform(tensors[first].array)})


def blocks_exchanged(tensors, first, second):
    changed = dict(tensors)
    for name in tensors:
        if name.startswith(first + "."):
            other = second + name[len(first):]
            changed = exchanged(changed, name, other)
    return changed


def permuted_classes(tensors):
    order = np.random.default_rng(0).permutation(len(tensors["decoder.output_conv.bias"].array))
    return replaced(tensors, {"decoder.output_conv.weight": tensors["decoder.output_conv.weight"].array[:, order],
                                "decoder.output_conv.bias": tensors["decoder.output_conv.bias"].array[order]})


def statistics_reset(tensors, block):
    return replaced(tensors, {f"{block}.{bn}.{leaf}": np.full_like(tensors[f"{block}.{bn}.{leaf}"].array, value)
                                for bn in ("bn1", "bn2") for leaf, value in (("moving_mean", 0.0),
                                                                             ("moving_variance", 1.0))})


def with_dtype(tensors, name, dtype):
    old = tensors[name]
    changed = dict(tensors)
    changed[name] = Stored(old.key, old.array.astype(dtype).astype(np.float64), np.dtype(dtype).name)
    return changed


def with_nan(tensors, name):
    array = tensors[name].array.copy()
    array.flat[5] = np.nan
    return replaced(tensors, {name: array})


def momentum_one_tenth(monkeypatch):
    """BatchNorm momentum 0.1, PyTorch's number, where MindSpore's 0.9 means the same (it weights the running
    value): running statistics move 9x too far per step."""
    monkeypatch.setattr(ms_erfnet.blocks, "batchnorm",
                        lambda channels, eps: nn.BatchNorm2d(channels, eps=eps, momentum=0.1))


class DropoutInEvalMode(nn.Dropout2d):
    """Channel dropout that ignores the eval mode."""

    def construct(self, x):
        out, _ = self.dropout2d(x)
        return out


def dropout_in_eval_mode(monkeypatch):
    ms.set_seed(0)
    monkeypatch.setattr(ms_erfnet.model, "dropout",
                        lambda rate, *_: nn.Identity() if rate == 0 else DropoutInEvalMode(p=rate))


FAULTS = (
    Fault("gamma and beta exchanged in one BatchNorm", "encoder.layers.3", "bn1 gamma and beta exchanged",
          lambda t: exchanged(t, "encoder.layers.3.bn1.gamma", "encoder.layers.3.bn1.beta")),
    Fault("moving_mean and moving_variance exchanged", "encoder.layers.6",
          "bn moving_mean and moving_variance exchanged",
          lambda t: exchanged(t, "encoder.layers.6.bn.moving_mean", "encoder.layers.6.bn.moving_variance")),
    Fault("the 3x1 and 1x3 kernels of one block exchanged (transposed to fit)", "encoder.layers.2",
          "conv3x1_1.weight and conv1x3_1.weight exchanged (transposed)",
          lambda t: exchanged(t, "encoder.layers.2.conv3x1_1.weight", "encoder.layers.2.conv1x3_1.weight",
                              lambda a: a.swapaxes(-1, -2))),
    Fault("one conv kernel flipped spatially (the upsampler's transposed conv)", "decoder.layers.0",
          "conv.weight: flipped spatially",
          lambda t: replaced(t, {"decoder.layers.0.conv.weight": t["decoder.layers.0.conv.weight"].array[..., ::-1,
                                                                                                          ::-1]})),
    Fault("two equal-shaped layers exchanged (dilations 4 and 8)", "encoder.layers.8",
          "encoder.layers.8 and encoder.layers.9 exchanged",
          lambda t: blocks_exchanged(t, "encoder.layers.8", "encoder.layers.9")),
    Fault("BatchNorm statistics reset to 0/1 in one block", "decoder.layers.1", "at its initial value 0",
          lambda t: statistics_reset(t, "decoder.layers.1")),
    Fault("one tensor scaled by 1.001", "encoder.layers.10", "conv3x1_2.weight: REF's scaled by 1.001",
          lambda t: replaced(t, {"encoder.layers.10.conv3x1_2.weight":
                                 1.001 * t["encoder.layers.10.conv3x1_2.weight"].array})),
    Fault("the output classes of decoder.output_conv permuted", "decoder.output_conv",
          "weight, bias: output classes permuted", permuted_classes),
    Fault("upsampler alignment of the other framework (the zoo's)", "decoder.layers.0",
          "upsampler alignment differs", upsample_align="zoo"),
    Fault("BatchNorm momentum 0.1 in the MindSpore network (model-level)", "encoder.initial_block",
          "BatchNorm running statistics", model=momentum_one_tenth),
    Fault("dropout active in eval mode (model-level)", "encoder.layers.1", "Forward, eval mode",
          model=dropout_in_eval_mode),
    Fault("one tensor a copy of another layer's", "encoder.layers.4",
          "holds REF's encoder.layers.5.conv1x3_2.weight",
          lambda t: replaced(t, {"encoder.layers.4.conv1x3_2.weight": t["encoder.layers.5.conv1x3_2.weight"].array})),
    Fault("one tensor stored as float16", "encoder.layers.12", "dtype float16 where REF has float32",
          lambda t: with_dtype(t, "encoder.layers.12.conv1x3_1.weight", np.float16)),
    Fault("a NaN in one BatchNorm statistic", "encoder.layers.13", "NaN/inf",
          lambda t: with_nan(t, "encoder.layers.13.bn2.moving_variance")),
    Fault("one tensor missing from OURS", "decoder.layers.4", "conv3x1_1.bias: missing in OURS",
          lambda t: replaced(t, {"decoder.layers.4.conv3x1_1.bias": None})),
    Fault("an extra tensor in OURS (a copied num_batches_tracked)", "encoder.layers.1", "in OURS only",
          lambda t: replaced(t, {"encoder.layers.1.bn1.num_batches_tracked": np.array(7.0)}),
          computes_differently=False),
)


def planted(fault, ours):
    """OURS (a parity.files.OursFile) with the fault's weights or alignment."""
    if fault.tensors is not None:
        ours = dataclasses.replace(ours, tensors=fault.tensors(ours.tensors))
    if fault.upsample_align is not None:
        ours = dataclasses.replace(ours, upsample_align=fault.upsample_align, align_origin="planted")
    return ours


def run_fault(fault, reference, ours):
    """The PairResult with `fault` planted."""
    from parity.pair import compare
    with pytest.MonkeyPatch.context() as monkeypatch:
        if fault.model is not None:
            fault.model(monkeypatch)
        return compare(reference, planted(fault, ours), **EVERY_FAULT)


def readme_table(folder):
    """The catalogue table of docs/parity.md, measured: fault | block reported | first failing row | its error."""
    from convert import convert_file
    from parity.files import read_ours, read_reference
    from helpers.upstream_weights import save_upstream
    save_upstream(folder / "ref.pth")
    convert_file(folder / "ref.pth", folder / "ours.ckpt")
    reference, ours = read_reference(folder / "ref.pth"), read_ours(folder / "ours.ckpt")
    lines = ["| fault | block reported | first failing row | its error |", "|-|-|-|-|"]
    for fault in FAULTS:
        started = time.perf_counter()
        result = run_fault(fault, reference, ours)
        failing = result.first_failing_row
        row = f"{failing[0].split(' (')[0].split(':')[0]}: {failing[1].name}" if failing else "none (weight table only)"
        error = f"{failing[1].relative:.2g} (bar {failing[1].tolerance:.0e})" if failing else "-"
        reported = str(result.first_divergence).replace("|", "\\|")  # a bar inside a Markdown table cell
        lines.append(f"| {fault.name} | `{reported}` | {row} | {error} |")
        print(f"{fault.name}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return "\n".join(lines)


if __name__ == "__main__":
    import tempfile
    from ms_erfnet.onednn import cap_isa_where_it_helps
    cap_isa_where_it_helps()
    with tempfile.TemporaryDirectory() as temporary:
        print(readme_table(Path(temporary)))
