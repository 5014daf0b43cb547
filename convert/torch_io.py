"""Reading and writing PyTorch weight files the way erfnet_pytorch writes them.

Reads: a bare state_dict, a training checkpoint wrapping one ({'state_dict', 'epoch', 'optimizer', ...}),
`module.` prefixes from DataParallel, and the ImageNet-pretrained encoder (`features.encoder.*`).
Files are loaded with weights_only=True: a pickle that carries code is refused and nothing in it runs. A zip
file (torch.save's format since PyTorch 1.6) has its CRC32 per entry checked first, which torch.load does not do;
the legacy format carries no checksum, and a note says so.
"""
import pickle
import warnings
import zipfile
from collections import OrderedDict

import numpy as np
import torch

from convert.names import torch_name
from convert.weights import checked_weights, expected_shapes
from facts.atomic import atomic_output
from facts.errors import UserError, first_line

DATA_PARALLEL_PREFIX = "module."
IMAGENET_ENCODER_PREFIX = "features.encoder."
IMAGENET_CLASSIFIER_PREFIX = "classifier."
TORCH_LEAF_ORDER = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


ZIP_MAGIC = b"PK\x03\x04"
PICKLE_MAGIC = b"\x80"
GZIP_MAGIC = b"\x1f\x8b"
REFUSED_GLOBAL = ("Weights only load failed", "Unsupported global", "Unsupported operand")


def file_format(path):
    """"zip" or "legacy" (torch.save's two formats) from the first bytes; UserError for anything else."""
    with open(path, "rb") as file:
        head = file.read(512)
    if head.startswith(ZIP_MAGIC):
        return "zip"
    if head.startswith(PICKLE_MAGIC):
        return "legacy"
    if not head:
        raise UserError(f"{path}: the file is empty")
    if head.startswith(GZIP_MAGIC):
        raise UserError(f"{path}: a gzip-compressed file, not a PyTorch weight file (decompress it first)")
    if all(32 <= byte < 127 or byte in b"\t\r\n" for byte in head):
        raise UserError(f"{path}: a text file, not a PyTorch weight file")
    raise UserError(f"{path}: not a PyTorch weight file (neither torch.save's zip nor its legacy format)")


def verify_zip(path):
    """Check the CRC32 of every entry of a zip-format .pth."""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, RuntimeError) as error:
        raise UserError(f"{path}: a damaged zip file: {first_line(error)} (truncated or corrupted?)") from None
    if bad is not None:
        raise UserError(f"{path}: corrupted: entry {bad} fails its CRC32 check")


def load_torch_file(path, notes):
    """The object torch.save wrote, after checking the file's format and, for zip files, its checksums."""
    if file_format(path) == "zip":
        verify_zip(path)
    else:
        notes.append("legacy PyTorch format (before 1.6): it carries no checksum, so corruption cannot be detected")
    try:
        with warnings.catch_warnings():
            # a plain (non-zip) pickle makes torch warn about its protocol first; what it holds is reported below
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if any(marker in str(error) for marker in REFUSED_GLOBAL):
            raise UserError(f"{path}: refused: the file holds Python objects, not only tensors, and is not loaded "
                            f"(weights_only=True; nothing in it was run). Detail: {first_line(error)}") from None
        raise UserError(f"{path}: a damaged PyTorch file ({first_line(error)})") from None
    except Exception as error:  # torch raises many types for damaged files: RuntimeError, EOFError, KeyError, ...
        raise UserError(f"{path}: not a readable PyTorch file ({first_line(error)})") from None


def unwrap_state_dict(obj, path, notes):
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        extras = sorted(key for key in obj if key != "state_dict")
        notes.append(f"training checkpoint: took its state_dict; ignored {', '.join(extras) or 'nothing else'}")
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise UserError(f"{path}: expected a state_dict (a dict of tensors), found {type(obj).__name__}")
    if not obj:
        raise UserError(f"{path}: holds an empty dict: no weights")
    not_text = [repr(key) for key in obj if not isinstance(key, str)]
    if not_text:
        raise UserError(f"{path}: keys that are not parameter names: {', '.join(not_text[:6])}")
    not_tensors = [str(key) for key, value in obj.items() if not isinstance(value, torch.Tensor)]
    if not_tensors:
        raise UserError(f"{path}: entries that are not tensors: {', '.join(not_tensors[:6])}")
    return obj


def strip_prefixes(state, notes):
    if all(key.startswith(DATA_PARALLEL_PREFIX) for key in state):
        state = {key[len(DATA_PARALLEL_PREFIX):]: value for key, value in state.items()}
        notes.append("stripped the DataParallel prefix 'module.'")
    if any(key.startswith(IMAGENET_ENCODER_PREFIX) for key in state):
        classifier = [key for key in state if key.startswith(IMAGENET_CLASSIFIER_PREFIX)]
        state = {"encoder." + key[len(IMAGENET_ENCODER_PREFIX):]: value for key, value in state.items()
                 if key.startswith(IMAGENET_ENCODER_PREFIX) or key not in classifier}
        notes.append("erfnet_pytorch ImageNet-pretrained encoder: took features.encoder.*"
                     + (f"; dropped its ImageNet classifier ({', '.join(classifier)})" if classifier else ""))
    return state


def as_array(tensor):
    """The tensor as numpy in its own dtype (bfloat16, which numpy lacks, as float32); checked_weights judges it."""
    tensor = tensor.detach().cpu()
    return (tensor.float() if tensor.dtype == torch.bfloat16 else tensor).numpy()


def read_torch_weights(path):
    notes = []
    state = strip_prefixes(unwrap_state_dict(load_torch_file(path, notes), path, notes), notes)
    tracked = [key for key in state if key.endswith(".num_batches_tracked")]
    if tracked:
        notes.append(f"dropped {len(tracked)} num_batches_tracked counters (no MindSpore counterpart)")
    bfloat16 = [key for key, value in state.items() if value.dtype == torch.bfloat16]
    if bfloat16:
        notes.append(f"converted {len(bfloat16)} bfloat16 tensors to float32 exactly")
    ms_names = {torch_name(name): name for name in expected_shapes(1)}
    arrays = {ms_names.get(key, key): as_array(value) for key, value in state.items() if key not in tracked}
    return checked_weights(arrays, path, notes)


def torch_state_dict(weights, prefix=DATA_PARALLEL_PREFIX):
    """An erfnet_pytorch state_dict for `weights`: PyTorch's key order, num_batches_tracked recreated as 0."""
    modules = OrderedDict()
    for name, array in weights.arrays.items():
        module, _, leaf = torch_name(name).rpartition(".")
        tensors = modules.setdefault(module, {})
        tensors[leaf] = torch.from_numpy(np.array(array, dtype=np.float32))
        if leaf == "running_var":
            tensors["num_batches_tracked"] = torch.tensor(0, dtype=torch.long)
    return OrderedDict((f"{prefix}{module}.{leaf}", tensors[leaf])
                       for module, tensors in modules.items()
                       for leaf in sorted(tensors, key=TORCH_LEAF_ORDER.index))


def write_torch_weights(weights, path, prefix=DATA_PARALLEL_PREFIX):
    with atomic_output(path) as temporary:
        torch.save(torch_state_dict(weights, prefix), temporary)
