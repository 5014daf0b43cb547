"""Reading and writing MindSpore checkpoints of ERFNet.

Checkpoints written by training also hold optimizer state (moments, step, learning rate): those entries
are recognised and ignored with a note. The upsampler alignment travels in the checkpoint's metadata.
Checkpoints of the MindSpore model zoo's port (convert/zoo.py) are recognised by their names, imply the zoo
alignment, and are written on request (without metadata, as the zoo writes them).
"""
import mindspore as ms
import numpy as np

from convert.weights import checked_weights, expected_shapes
from convert.zoo import ZOO_ALIGN, translate_zoo_names, zoo_arrays
from facts.atomic import atomic_output
from facts.errors import UserError, first_line

OPTIMIZER_PREFIXES = ("moment1.", "moment2.", "moments.", "exp_avg.", "exp_avg_sq.", "adam_m.", "adam_v.",
                      "accum.", "vhat.")
OPTIMIZER_SCALARS = ("beta1_power", "beta2_power", "learning_rate", "global_step", "step", "current_iterator_step",
                     "last_overflow_iterator_step", "scale_sense", "loss_scale", "epoch_num", "step_num")
ALIGN_KEY = "upsample_align"


def load_checkpoint_file(path):
    try:
        return ms.load_checkpoint(str(path))
    except (ValueError, RuntimeError, TypeError, OSError) as error:
        raise UserError(f"{path}: not a readable MindSpore checkpoint ({first_line(error)})") from None


def is_optimizer_state(name):
    return name in OPTIMIZER_SCALARS or name.startswith(OPTIMIZER_PREFIXES)


def read_ms_weights(path):
    entries = load_checkpoint_file(path)
    notes = []
    metadata = {key: value for key, value in entries.items() if isinstance(value, str)}
    optimizer = [name for name in entries if name not in metadata and is_optimizer_state(name)
                 and name not in expected_shapes(1)]
    if optimizer:
        notes.append(f"ignored {len(optimizer)} optimizer entries ({', '.join(optimizer[:3])}, ...)")
    arrays = {name: value.asnumpy() for name, value in entries.items()
              if name not in metadata and name not in optimizer}
    arrays, zoo_named = translate_zoo_names(arrays, path, notes)
    return checked_weights(arrays, path, notes, metadata.get(ALIGN_KEY, ZOO_ALIGN if zoo_named else "torch"))


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
        ms.save_checkpoint(records, str(temporary), append_dict=metadata)
