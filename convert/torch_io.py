"""Reading and writing PyTorch weight files the way erfnet_pytorch writes them.

Reads: a bare state_dict, a training checkpoint wrapping one ({'state_dict', 'epoch', 'optimizer', ...}),
`module.` prefixes from DataParallel, and the ImageNet-pretrained encoder (`features.encoder.*`).
Files are loaded with weights_only=True: a pickle that carries code is refused and nothing in it runs.
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
from facts.errors import UserError

DATA_PARALLEL_PREFIX = "module."
IMAGENET_ENCODER_PREFIX = "features.encoder."
IMAGENET_CLASSIFIER_PREFIX = "classifier."
TORCH_LEAF_ORDER = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def load_torch_file(path):
    try:
        with warnings.catch_warnings():
            # a plain (non-zip) pickle makes torch warn about its protocol first; what it holds is reported below
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise UserError(f"{path}: refused: the file holds Python objects, not only tensors, and is not "
                        f"loaded (weights_only=True; nothing in it was run). Detail: "
                        f"{str(error).splitlines()[0]}") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as error:
        raise UserError(f"{path}: not a readable PyTorch file ({str(error).splitlines()[0]})") from None


def unwrap_state_dict(obj, path, notes):
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        extras = sorted(key for key in obj if key != "state_dict")
        notes.append(f"training checkpoint: took its state_dict; ignored {', '.join(extras) or 'nothing else'}")
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj:
        raise UserError(f"{path}: expected a state_dict (a dict of tensors), found {type(obj).__name__}")
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


def read_torch_weights(path):
    notes = []
    state = strip_prefixes(unwrap_state_dict(load_torch_file(path), path, notes), notes)
    tracked = [key for key in state if key.endswith(".num_batches_tracked")]
    if tracked:
        notes.append(f"dropped {len(tracked)} num_batches_tracked counters (no MindSpore counterpart)")
    ms_names = {torch_name(name): name for name in expected_shapes(1)}
    arrays = {ms_names.get(key, key): value.detach().cpu().float().numpy()
              for key, value in state.items() if key not in tracked}
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
