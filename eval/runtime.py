"""The runtimes that compute ERFNet's scores for `erfnet eval` and `erfnet infer`: MindSpore, or onnxruntime on
the network exported to ONNX (the fastest CPU inference measured here: docs/performance.md).

A runtime is an eval.predict.Predictor, what eval.predict.logits calls: `runtime(images) -> logits` (MindSpore
tensors: images float32 [B, 3, H, W] in [0, 1], logits [B, C, H, W]) and `num_classes`, so evaluation and
inference treat both alike and do the same pre- and post-processing. A MindSpore ERFNet is its own runtime;
`OnnxRuntime` is the other.

onnxruntime needs a fixed input shape per model. Given a network, `OnnxRuntime` exports it on first use of each
input shape (eval.export, which verifies the file against the network) into the cache folder, one file per
(weights digest, input shape), written atomically with its sha256 in a `.sha256` file beside it, and reuses it
in later runs only when the two agree (a damaged or half-replaced file is exported again, never trusted); given
an .onnx file, it runs that file. A batch smaller than the model's is padded by repeating its last image (each
image is scored on its own in inference mode); a larger one runs in slices.
"""
import logging
from pathlib import Path

import mindspore as ms
import mindspore.nn as nn
import numpy as np

from eval.export import export_network
from facts.atomic import atomic_output
from facts.cache import cache_folder
from facts.digest import arrays_digest, file_digest
from facts.errors import UserError, first_line

log = logging.getLogger(__name__)

RUNTIMES = ("mindspore", "onnxruntime")
CACHE_VERSION = "1"  # part of every cached file's digest: raise it when the exported graph changes


def network_digest(net):
    """sha256 of what an export of `net` computes: every Parameter (BatchNorm statistics included), the
    upsampler alignment, MindSpore's version and CACHE_VERSION."""
    salt = f"erfnet onnx {CACHE_VERSION} mindspore {ms.__version__} align {net.upsample_align}"
    return arrays_digest({parameter.name: parameter.asnumpy() for parameter in net.get_parameters()}, salt)


class _ExportOnce(nn.Cell):
    """`net` in a new Cell: MindSpore 2.10 fails a second ONNX export of one Cell at one input shape in a process
    (RuntimeError "out of range" at a BiasAdd), which a damaged cache file makes us do; a new Cell exports afresh."""

    def __init__(self, net):
        super().__init__(auto_prefix=False)
        self.net = net

    def construct(self, images):
        return self.net(images)


def _session(path):
    import onnxruntime
    if not Path(path).is_file():
        raise UserError(f"{path}: no such file")
    try:
        return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime's own exception types (InvalidProtobuf, Fail, ...)
        raise UserError(f"{path}: not an ONNX model onnxruntime can run ({first_line(error)})") from None


def _fixed(dimension):
    return dimension if isinstance(dimension, int) and dimension > 0 else None


class OnnxModel:
    """One onnxruntime session and its input shape (None where the model leaves a dimension free)."""

    def __init__(self, path):
        self.path = Path(path)
        self.session = _session(path)
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4 or _fixed(inputs[0].shape[1]) not in (3, None) \
                or inputs[0].type != "tensor(float)" or len(outputs[0].shape) != 4:
            raise UserError(f"{path}: expected one float32 image input [B, 3, H, W] and logits [B, C, H, W]; "
                            f"it takes {[(i.name, i.type, i.shape) for i in inputs]}")
        self.input_name = inputs[0].name
        self.batch, _, self.height, self.width = (_fixed(dimension) for dimension in inputs[0].shape)
        self.num_classes = _fixed(outputs[0].shape[1])

    def check_size(self, height, width):
        if (self.height or height, self.width or width) != (height, width):
            raise UserError(f"{self.path}: takes images of {self.height}x{self.width}, not {height}x{width}: "
                            f"choose the height that gives {self.height}x{self.width}, or let erfnet export the "
                            f"weights (--weights FILE --runtime onnxruntime)")

    def run(self, images):
        """Logits of float32 images [B, 3, H, W] (numpy), in slices of the model's batch, the last one padded."""
        batch = self.batch or len(images)
        results = []
        for start in range(0, len(images), batch):
            chunk = images[start:start + batch]
            padded = np.concatenate([chunk] + [chunk[-1:]] * (batch - len(chunk)))
            results.append(self.session.run(None, {self.input_name: padded})[0][:len(chunk)])
        return np.concatenate(results)


class OnnxRuntime:
    """ERFNet's scores from onnxruntime. Give `net` (a MindSpore ERFNet: exported per input shape, batch
    `batch_size`, into `cache`, default cache_folder()) or `model` (an .onnx file)."""

    def __init__(self, net=None, model=None, batch_size=1, cache=None):
        if (net is None) == (model is None):
            raise ValueError("give a network or an .onnx file")
        self.net, self.batch_size = net, batch_size
        self.cache = Path(cache) if cache else cache_folder()
        self.models = {}
        if model is not None:
            self.fixed = OnnxModel(model)
            if self.fixed.num_classes is None:
                raise UserError(f"{model}: its output does not state the number of classes")
            self.num_classes = self.fixed.num_classes
        else:
            self.fixed, self.num_classes = None, net.num_classes
            self.digest = network_digest(net)
            net.set_train(False)

    def cached_path(self, height, width):
        return self.cache / f"erfnet-{self.digest[:32]}-{self.batch_size}x3x{height}x{width}.onnx"

    def model(self, height, width):
        """The OnnxModel for images of height x width: the given file, or the cached export (made if missing)."""
        if self.fixed is not None:
            self.fixed.check_size(height, width)
            return self.fixed
        if (height, width) not in self.models:
            self.models[height, width] = OnnxModel(self.cached_export(height, width))
        return self.models[height, width]

    def cached_export(self, height, width):
        """The path of the cached export for height x width: reused when its bytes match its recorded sha256,
        else exported (and checked against the network by eval.export) and recorded."""
        path = self.cached_path(height, width)
        seal = path.with_name(path.name + ".sha256")
        if path.is_file() and seal.is_file() and seal.read_text(errors="replace").strip() == file_digest(path):
            return path
        if path.exists():
            log.warning(f"{path}: does not match its recorded sha256 (damaged or unfinished); exporting again")
        log.info(f"exporting the network for onnxruntime at {self.batch_size}x3x{height}x{width} to {path}")
        export_network(_ExportOnce(self.net), path, "onnx", self.batch_size, height, width)
        with atomic_output(seal) as temporary:
            temporary.write_text(file_digest(path) + "\n")
        return path

    def __call__(self, images):
        array = images.asnumpy() if isinstance(images, ms.Tensor) else np.asarray(images, np.float32)
        return ms.Tensor(self.model(*array.shape[2:]).run(array))
