"""Deployment files of a MindSpore ERFNet with a fixed input shape, each checked by loading it back.

MINDIR is written by `mindspore.export` and read back by `mindspore.load`; ONNX is written by
`mindspore.onnx.export`, repaired (eval.onnx_repair) and read back by onnxruntime. The file's output on a
seeded random input is compared with the network's own: relative error = max |file - net| / max |net|.
A file above the tolerance is not written.
"""
import functools
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mindspore as ms
import mindspore.nn as nn
import numpy as np

from facts.atomic import atomic_output
from facts.errors import UserError
from facts.spec import check_size

ENDINGS = {"mindir": ".mindir", "onnx": ".onnx"}
TOLERANCE = 1e-4


@dataclass
class ExportCheck:
    path: Path
    max_abs_error: float
    relative_error: float


def _mindir(net, sample, temporary):
    ms.export(net, ms.Tensor(sample), file_name=str(temporary), file_format="MINDIR")
    return nn.GraphCell(ms.load(str(temporary)))(ms.Tensor(sample)).asnumpy()


@functools.cache
def pads_in_mindspore_order():
    """Whether this MindSpore writes ONNX Conv pads in its own (top, bottom, left, right) order (2.7.1 and 2.10.0
    do: parity_tests/eval/test_export_roundtrip.py): probed by exporting a 3x1 convolution padded (1, 1, 0, 0), which
    ONNX's order writes (1, 0, 1, 0)."""
    import onnx
    probe = nn.Conv2d(1, 1, (3, 1), pad_mode="pad", padding=(1, 1, 0, 0))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "probe.onnx"
        ms.onnx.export(probe, ms.Tensor(np.zeros((1, 1, 4, 4), np.float32)), file_name=str(path))
        pads = [list(attribute.ints) for node in onnx.load(str(path)).graph.node if node.op_type == "Conv"
                for attribute in node.attribute if attribute.name == "pads"]
    return pads == [[1, 1, 0, 0]]


def _onnx(net, sample, temporary):
    import onnx
    import onnxruntime

    from eval.onnx_repair import INPUT_NAME, repair
    reorder_pads = pads_in_mindspore_order()
    with tempfile.TemporaryDirectory() as folder:
        raw = Path(folder) / "mindspore.onnx"
        ms.onnx.export(net, ms.Tensor(sample), file_name=str(raw), input_names=[INPUT_NAME])
        onnx.save(repair(onnx.load(str(raw)), reorder_pads), str(temporary))
    session = onnxruntime.InferenceSession(str(temporary), providers=["CPUExecutionProvider"])
    return session.run(None, {INPUT_NAME: sample})[0]


def export_network(net, path, file_format, batch=1, height=512, width=1024, seed=0, tolerance=TOLERANCE):
    """Write `net` (in inference mode) as MINDIR or ONNX for input [batch, 3, height, width] at `path`,
    load it back and compare; returns an ExportCheck. Raises UserError (and writes nothing) when the
    relative error exceeds `tolerance`."""
    if file_format not in ENDINGS:
        raise UserError(f"format {file_format!r}: choose one of {', '.join(ENDINGS)}")
    path = Path(path)
    if path.suffix.lower() != ENDINGS[file_format]:
        raise UserError(f"{path}: a {file_format} file must end in {ENDINGS[file_format]}")
    check_size("height", height)
    check_size("width", width)
    if batch < 1:
        raise UserError(f"batch {batch}: must be at least 1")
    net.set_train(False)
    sample = np.random.default_rng(seed).random((batch, 3, height, width), dtype=np.float32)
    expected = net(ms.Tensor(sample)).asnumpy()
    with atomic_output(path) as temporary:
        loaded = (_mindir if file_format == "mindir" else _onnx)(net, sample, temporary)
        if loaded.shape != expected.shape:
            raise UserError(f"{path}: the exported {file_format} model gives shape {loaded.shape}, the network "
                            f"{expected.shape}; nothing written")
        max_abs_error = float(np.abs(loaded.astype(np.float64) - expected).max())
        relative_error = max_abs_error / max(float(np.abs(expected).max()), np.finfo(np.float32).tiny)
        if not relative_error <= tolerance:
            raise UserError(f"{path}: the exported {file_format} model differs from the network by "
                            f"{relative_error:.3g} relative (max abs {max_abs_error:.3g}), above {tolerance:g}; "
                            f"nothing written")
    return ExportCheck(path, max_abs_error, relative_error)
