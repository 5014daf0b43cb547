"""The two files of a two-file parity run, each read the way its own framework reads it.

REF, a PyTorch file, goes into torch_ref as erfnet_pytorch loads one: torch.load (weights_only=True), the
state_dict of a training checkpoint, DataParallel's `module.` stripped, then load_state_dict(strict=True) into
Net(num_classes), or into its encoder for encoder-only files. Only torch and torch_ref read it, so nothing of the
converter stands on both sides of the comparison.

OURS, a MindSpore checkpoint, goes into ms_erfnet as MindSpore loads one: mindspore.load_checkpoint, the model
zoo's names mapped to this project's by name, then load_param_into_net by name. Its string entries are metadata
(the upsampler alignment; the zoo's names imply the zoo's); optimizer entries are ignored with a note. Missing,
extra and wrongly shaped tensors are not load errors: the weight table reports them, and a parameter without a
tensor of its shape keeps its initial value.
"""
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

import mindspore as ms
import numpy as np
import torch

from convert.api import MS_ENDINGS, TORCH_ENDINGS
from convert.ms_io import ALIGN_KEY, is_optimizer_state, load_checkpoint_file
from convert.names import DECODER, ENCODER, ENCODER_HEAD, PARTS, part_of, torch_name
from convert.network import build_network
from convert.weights import expected_shapes, infer_num_classes
from convert.zoo import ZOO_ALIGN, from_zoo_name, translate_zoo_names
from facts.errors import UserError, first_line
from facts.spec import UPSAMPLE_ALIGNMENTS
from ms_erfnet.seeded_dropout import MASK
from parity.engine import PARITY_SEED
from parity.weight_table import Stored
from torch_ref import Net
from torch_ref.checkpoint import imagenet_encoder, without_prefix

TRACKED = ".num_batches_tracked"
HEAD_KEYS = ("output_conv.weight", "output_conv.bias")
SHOWN = 4
LONGEST_ERROR = 300


def _listing(keys):
    keys = list(keys)
    return ", ".join(keys[:SHOWN]) + (f" and {len(keys) - SHOWN} more" if len(keys) > SHOWN else "")


def dtype_name(dtype):
    """float32, float16, bfloat16, ... for a torch, numpy or MindSpore dtype."""
    return str(dtype).lower().replace("torch.", "")


@dataclass
class ReferenceFile:
    """REF as torch_ref holds it: `net` (float32, as loaded), its tensors by this project's names (BatchNorm
    buffers included, num_batches_tracked left out: MindSpore has no counterpart), class count (0: an encoder
    without its head), the parts present, and what reading noticed."""
    source: str
    net: Net
    tensors: dict
    num_classes: int
    parts: tuple
    notes: list


@dataclass
class OursFile:
    """OURS as read from its checkpoint: tensors by this project's names, the upsampler alignment it records and
    where that came from, its class count (0: an encoder without its head), and what reading noticed."""
    source: str
    tensors: dict
    upsample_align: str
    align_origin: str
    num_classes: int
    notes: list

    @property
    def parts(self):
        return tuple(part for part in PARTS if any(part_of(name) == part for name in self.tensors))


def read_reference(path):
    """REF from a PyTorch file in any layout erfnet_pytorch writes (see reference_from)."""
    if not Path(path).is_file():
        raise UserError(f"{path}: no such file")
    if str(path).lower().endswith(MS_ENDINGS):
        raise UserError(f"{path}: a MindSpore checkpoint; the reference is the PyTorch file (.pth, .pth.tar, .pt)")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise UserError(f"{path}: refused: the file holds Python objects, not only tensors, and is not loaded "
                        f"(weights_only=True; nothing in it was run). Detail: {first_line(error)}") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as error:
        raise UserError(f"{path}: not a readable PyTorch file ({first_line(error)})") from None
    return reference_from(loaded, str(path))


def reference_from(loaded, source="REF"):
    """REF from what torch.load returned: a state_dict or a training checkpoint holding one ({'state_dict': ...}),
    keys with or without `module.`, the full Net, its encoder alone (`encoder.*`, with or without the head), or
    erfnet_pytorch's ImageNet-pretrained model (its `features.encoder`, an encoder without head). Loaded strictly
    into torch_ref; any key or shape that does not fit is a UserError naming `source`."""
    notes = []
    if isinstance(loaded, dict) and isinstance(loaded.get("state_dict"), dict):
        extras = sorted(str(key) for key in loaded if key != "state_dict")
        notes.append(f"training checkpoint: took its state_dict; ignored {', '.join(extras) or 'nothing else'}")
        loaded = loaded["state_dict"]
    if not isinstance(loaded, dict) or not loaded:
        raise UserError(f"{source}: expected a state_dict (a dict of tensors), found {type(loaded).__name__}")
    not_tensors = [str(key) for key, value in loaded.items() if not isinstance(value, torch.Tensor)]
    if not_tensors:
        raise UserError(f"{source}: entries that are not tensors: {_listing(not_tensors)}")
    state = without_prefix(loaded)
    if state.keys() != loaded.keys():
        notes.append("stripped the DataParallel prefix 'module.'")
    imagenet = imagenet_encoder(state)
    if imagenet is not None:
        state, classifier = imagenet
        notes.append("erfnet_pytorch's ImageNet-pretrained model: took features.encoder"
                     + (f", left out its classifier ({', '.join(classifier)})" if classifier else ""))
    if not any(part_of(key) == ENCODER for key in state):
        raise UserError(f"{source}: holds no ERFNet encoder (no key starts with encoder.initial_block or "
                        f"encoder.layers; first keys: {_listing(state)})")
    parts = tuple(part for part in PARTS if any(part_of(key) == part for key in state))
    num_classes = reference_classes(state)
    net = Net(num_classes or 20)
    load_strictly(net, state, parts, source)
    tracked = [key for key in state if key.endswith(TRACKED)]
    if tracked:
        notes.append(f"{len(tracked)} num_batches_tracked counters not compared (no MindSpore counterpart)")
    names = {torch_name(name): name for name in expected_shapes(num_classes or 20)}
    tensors = {names[key]: Stored(key, value.detach().float().double().numpy(), dtype_name(value.dtype))
               for key, value in state.items() if key in names}
    return ReferenceFile(source, net, tensors, num_classes, parts, notes)


def reference_classes(state):
    """The class count as REF's output layers state it (0 for an encoder without head)."""
    for key, axis in (("decoder.output_conv.weight", 1), ("encoder.output_conv.weight", 0)):
        if key in state and state[key].ndim > axis:
            return int(state[key].shape[axis])
    return 0


def load_strictly(net, state, parts, source):
    """load_state_dict(strict=True) into `net`, or into its encoder for encoder-only REF (whose head may be
    absent, as in erfnet_pytorch's ImageNet encoder, which has none)."""
    if DECODER in parts:
        target, keys, what = net, state, f"erfnet_pytorch's Net({net.decoder.output_conv.out_channels})"
    else:
        target, what = net.encoder, "erfnet_pytorch's Encoder"
        keys = {key[len("encoder."):] if key.startswith("encoder.") else key: value for key, value in state.items()}
    try:
        if ENCODER_HEAD in parts or DECODER in parts:
            target.load_state_dict(keys, strict=True)
            return
        missing, unexpected = target.load_state_dict(keys, strict=False)
        missing = [key for key in missing if key not in HEAD_KEYS]
        if missing or unexpected:
            raise RuntimeError(f"missing keys {_listing(missing)}; unexpected keys {_listing(unexpected)}")
    except RuntimeError as error:
        message = " ".join(str(error).split())
        if len(message) > LONGEST_ERROR:
            message = message[:LONGEST_ERROR] + " ..."
        raise UserError(f"{source}: does not load into {what} with load_state_dict(strict=True): {message}") from None


def read_ours(path):
    """OURS from a MindSpore checkpoint in this project's names or the model zoo's (see ours_from)."""
    if not Path(path).is_file():
        raise UserError(f"{path}: no such file")
    if str(path).lower().endswith(TORCH_ENDINGS):
        raise UserError(f"{path}: a PyTorch file; the file to check is the MindSpore checkpoint (.ckpt)")
    return ours_from(load_checkpoint_file(path), str(path))


def ms_array(value):
    """(float64 values, dtype name as stored) of a checkpoint entry (MindSpore tensor or array-like)."""
    if isinstance(value, ms.Tensor):
        name = dtype_name(value.dtype)
        value = value.astype(ms.float32).asnumpy() if name == "bfloat16" else value.asnumpy()
        return np.asarray(value, np.float64), name
    array = np.asarray(value)
    return array.astype(np.float64), dtype_name(array.dtype)


def ours_from(entries, source="OURS", upsample_align=None):
    """OURS from checkpoint entries (name -> MindSpore tensor, array or, for metadata, str), under this project's
    names or the zoo's. `upsample_align` overrides what the entries record."""
    notes = []
    metadata = {name: value for name, value in entries.items() if isinstance(value, str)}
    optimizer = [name for name in entries if name not in metadata and is_optimizer_state(name)]
    if optimizer:
        notes.append(f"ignored {len(optimizer)} optimizer entries ({_listing(optimizer)})")
    stored = {name: ms_array(value) for name, value in entries.items()
              if name not in metadata and name not in optimizer}
    _, zoo_named = translate_zoo_names(stored, source, notes)
    tensors = {from_zoo_name(name) or name: Stored(name, array, dtype) for name, (array, dtype) in stored.items()}
    if upsample_align is not None:
        align, origin = upsample_align, "as given"
    elif ALIGN_KEY in metadata:
        align, origin = metadata[ALIGN_KEY], "from the file's metadata"
    elif zoo_named:
        align, origin = ZOO_ALIGN, "implied by its model zoo names"
    else:
        align, origin = "torch", "none recorded, so torch's"
    if align not in UPSAMPLE_ALIGNMENTS:
        raise UserError(f"{source}: {ALIGN_KEY} {align!r} is not one of {', '.join(UPSAMPLE_ALIGNMENTS)}")
    num_classes = infer_num_classes({name: tensor.array for name, tensor in tensors.items()}, source)
    return OursFile(source, tensors, align, origin, num_classes, notes)


def ours_network(ours, num_classes, dropout, upsample_align=None):
    """The network training runs (parity.engine.network_pair's kind) with OURS's tensors loaded by name through
    load_param_into_net, in eval mode; tensors without a parameter of their name and shape are left out (the weight
    table names them)."""
    net, _ = build_network(num_classes, upsample_align=upsample_align or ours.upsample_align, dropout=dropout,
                           dropout_seed=PARITY_SEED)
    shapes = {parameter.name: tuple(parameter.shape) for parameter in net.get_parameters()}
    loadable = {name: ms.Parameter(ms.Tensor(tensor.array.astype(np.float32)), name=name)
                for name, tensor in ours.tensors.items() if shapes.get(name) == tuple(tensor.array.shape)}
    # the dropout masks keep their own value (no weights): MindSpore would warn about each name it misses
    loadable.update({p.name: ms.Parameter(p.data.copy(), name=p.name) for p in net.get_parameters()
                     if p.name.endswith(MASK)})
    ms.load_param_into_net(net, loadable, strict_load=False)
    net.set_train(False)
    return net
