"""Reading and writing MindSpore checkpoints of ERFNet.

Checkpoints written by training also hold optimizer state (moments, step, learning rate): those entries
are recognised and ignored with a note. The upsampler alignment travels in the checkpoint's metadata.
Checkpoints of the MindSpore model zoo's port (convert/zoo.py) are recognised by their names, imply the zoo
alignment, and are written on request (without metadata, as the zoo writes them).
"""
import binascii
import dataclasses
from pathlib import Path

import mindspore as ms
import numpy as np

from convert.weights import checked_weights, expected_shapes
from convert.zoo import ZOO_ALIGN, translate_zoo_names, zoo_arrays
from facts.atomic import atomic_output
from facts.errors import UserError
from facts.spec import UPSAMPLE_ALIGNMENTS

OPTIMIZER_PREFIXES = ("moment1.", "moment2.", "moments.", "exp_avg.", "exp_avg_sq.", "adam_m.", "adam_v.",
                      "accum.", "vhat.")
OPTIMIZER_SCALARS = ("beta1_power", "beta2_power", "learning_rate", "global_step", "step", "current_iterator_step",
                     "last_overflow_iterator_step", "scale_sense", "loss_scale", "epoch_num", "step_num")
ALIGN_KEY = "upsample_align"
NETWORK_KEY = "network"  # training checkpoints: the network their stage trained (facts.spec.NETWORKS)


CRC_MARKER = b"crc_num"
CRC_TRAILER = len(CRC_MARKER) + 10  # MindSpore's crc_check appends "crc_num" and a CRC32 as 10 big-endian bytes


def verify_checksum(path):
    """True when the file carries MindSpore's CRC32 trailer (checked here: MindSpore's own failure message says
    "May not have permission"); False for a file written without one. UserError when the CRC does not match."""
    data = Path(path).read_bytes()
    if len(data) < CRC_TRAILER or data[-CRC_TRAILER:-10] != CRC_MARKER:
        return False
    if binascii.crc32(data[:-CRC_TRAILER]) != int.from_bytes(data[-10:], "big"):
        raise UserError(f"{path}: corrupted: its CRC32 checksum does not match its contents")
    return True


def load_checkpoint_file(path, notes=None):
    """The checkpoint's entries by name, its CRC32 verified when it has one; a file without one gets a note
    (in `notes`) that its bytes could not be verified. UserError says what is wrong with an unreadable file."""
    if Path(path).stat().st_size == 0:
        raise UserError(f"{path}: the file is empty")
    if not verify_checksum(path) and notes is not None:
        notes.append("no checksum in this checkpoint (written without MindSpore's crc_check): its bytes could not "
                     "be verified")
    try:
        return ms.load_checkpoint(str(path))
    except Exception:  # MindSpore raises ValueError, RuntimeError, KeyError, TypeError for damaged files
        raise UserError(f"{path}: not a readable MindSpore checkpoint (truncated or corrupted: cannot be parsed)") \
            from None


def is_optimizer_state(name):
    return name in OPTIMIZER_SCALARS or name.startswith(OPTIMIZER_PREFIXES)


def read_ms_weights(path):
    notes = []
    entries = load_checkpoint_file(path, notes)
    metadata = {key: value for key, value in entries.items() if isinstance(value, str)}
    if metadata.get(ALIGN_KEY, "torch") not in UPSAMPLE_ALIGNMENTS:
        raise UserError(f"{path}: metadata {ALIGN_KEY} is {metadata[ALIGN_KEY]!r}; it must be one of "
                        f"{', '.join(UPSAMPLE_ALIGNMENTS)}")
    optimizer = [name for name in entries if name not in metadata and is_optimizer_state(name)
                 and name not in expected_shapes(1)]
    if optimizer:
        notes.append(f"ignored {len(optimizer)} optimizer entries ({', '.join(optimizer[:3])}, ...)")
    arrays = {name: value.asnumpy() for name, value in entries.items()
              if name not in metadata and name not in optimizer}
    arrays, zoo_named = translate_zoo_names(arrays, path, notes)
    weights = checked_weights(arrays, path, notes, metadata.get(ALIGN_KEY, ZOO_ALIGN if zoo_named else "torch"))
    if metadata.get(NETWORK_KEY) == "encoder" and weights.has_full_network:
        notes.append("written by an encoder training stage: its decoder was never trained")
        weights = dataclasses.replace(weights, decoder_trained=False)
    return weights


def ms_parameters(weights):
    """The weights as MindSpore Parameters, ready for mindspore.load_param_into_net."""
    return {name: ms.Parameter(ms.Tensor(np.array(array, dtype=np.float32)), name=name)
            for name, array in weights.arrays.items()}


def write_ms_weights(weights, path, zoo_names=False):
    """This project's checkpoint, or with `zoo_names` the model zoo's (zoo-aligned weights only)."""
    if zoo_names and weights.upsample_align != ZOO_ALIGN:
        raise UserError(f"{path}: the model zoo's names need zoo-aligned weights; these are "
                        f"{weights.upsample_align}-aligned (convert them with --realign)")
    arrays = zoo_arrays(weights) if zoo_names else weights.arrays
    records = [{"name": name, "data": ms.Tensor(np.array(array, dtype=np.float32))} for name, array in arrays.items()]
    metadata = None if zoo_names else {ALIGN_KEY: weights.upsample_align}
    with atomic_output(path) as temporary:
        ms.save_checkpoint(records, str(temporary), append_dict=metadata, crc_check=True)
