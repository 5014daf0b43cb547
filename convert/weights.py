"""ERFNet weights in a framework-neutral form (numpy arrays under MindSpore names), checked strictly
against the network the layer table defines."""
import dataclasses
import functools
from dataclasses import dataclass, field

import numpy as np

from convert.names import DECODER, ENCODER, ENCODER_HEAD, PARTS, part_of, torch_name
from facts.errors import UserError

SHOWN_KEYS = 6


@dataclass
class Weights:
    """Arrays by MindSpore parameter name, the parts present, and what reading them noticed. decoder_trained is
    False for a training checkpoint of an encoder stage: its decoder holds weights no step ever changed."""
    arrays: dict
    num_classes: int
    parts: tuple
    notes: list = field(default_factory=list)
    upsample_align: str = "torch"
    decoder_trained: bool = True

    @property
    def has_full_network(self):
        return DECODER in self.parts

    def only(self, parts):
        """These weights restricted to `parts` (names from convert.names.PARTS)."""
        return dataclasses.replace(self, arrays={name: array for name, array in self.arrays.items()
                                                 if part_of(name) in parts},
                                   parts=tuple(part for part in self.parts if part in parts))


@functools.cache
def expected_shapes(num_classes):
    """MindSpore parameter name -> shape for ERFNet(num_classes), in the network's own order."""
    from ms_erfnet import ERFNet
    return {p.name: tuple(p.shape) for p in ERFNet(num_classes).get_parameters()}


def _listing(keys):
    keys = sorted(keys)
    shown = ", ".join(keys[:SHOWN_KEYS])
    return shown + (f" and {len(keys) - SHOWN_KEYS} more" if len(keys) > SHOWN_KEYS else "")


def infer_num_classes(arrays, source):
    """The class count as the output layers' shapes state it (decoder head first, then encoder head)."""
    if "decoder.output_conv.weight" in arrays:
        return int(arrays["decoder.output_conv.weight"].shape[1])
    if "encoder.output_conv.weight" in arrays:
        return int(arrays["encoder.output_conv.weight"].shape[0])
    if any(part_of(name) == ENCODER for name in arrays):
        return 0
    raise UserError(f"{source}: holds no ERFNet weights (no key starts with encoder. or decoder.; "
                    f"first keys: {_listing(list(arrays)[:SHOWN_KEYS])})")


def checked_weights(arrays, source, notes, upsample_align="torch"):
    """Validate MindSpore-named arrays: no unknown names, each part complete or absent, the encoder present,
    every shape right, real floating-point values (float16 and float64 become float32, with a note), all finite.
    Raises UserError naming the file and the keys."""
    num_classes = infer_num_classes(arrays, source)
    expected = expected_shapes(num_classes or 1)
    unknown = [name for name in arrays if name not in expected]
    if unknown:
        raise UserError(f"{source}: keys that are not ERFNet parameters: {_listing(torch_names(unknown))}")
    parts = []
    for part in PARTS:
        wanted = [name for name in expected if part_of(name) == part]
        present = [name for name in wanted if name in arrays]
        if present and len(present) < len(wanted):
            missing = [name for name in wanted if name not in arrays]
            raise UserError(f"{source}: the {part} is incomplete; missing {_listing(torch_names(missing))}")
        if present:
            parts.append(part)
    if ENCODER not in parts:
        raise UserError(f"{source}: the encoder's weights are missing (keys encoder.initial_block.*, "
                        f"encoder.layers.*)")
    wrong = [f"{torch_name(name)} {tuple(arrays[name].shape)} (expected {expected[name]})"
             for name in arrays if tuple(arrays[name].shape) != expected[name]]
    if wrong:
        raise UserError(f"{source}: wrong shapes for {num_classes} classes: {'; '.join(wrong[:SHOWN_KEYS])}")
    ordered = {name: float32_array(arrays[name], name, source) for name in expected if name in arrays}
    non_finite = [torch_name(name) for name, array in ordered.items() if not np.isfinite(array).all()]
    if non_finite:
        raise UserError(f"{source}: non-finite values (NaN or inf) in {_listing(non_finite)}")
    converted = sorted({str(np.asarray(arrays[name]).dtype) for name in ordered} - {"float32"})
    if converted:
        notes.append(f"converted {' and '.join(converted)} tensors to float32")
    if ENCODER_HEAD not in parts:
        notes.append("no encoder head (encoder.output_conv): only the full network or training can use it")
    if DECODER not in parts:
        notes.append("encoder only: no decoder weights, the output holds the encoder alone")
    return Weights(ordered, num_classes, tuple(parts), notes, upsample_align)


def float32_array(array, name, source):
    """A real floating-point array as contiguous float32; integer, boolean and complex tensors are refused (a cast
    would change them silently: complex loses its imaginary part)."""
    array = np.asarray(array)
    if array.dtype.kind != "f":
        raise UserError(f"{source}: {torch_name(name)} holds {array.dtype} values; ERFNet's weights are "
                        f"floating-point")
    return np.ascontiguousarray(array, dtype=np.float32)


def torch_names(ms_names):
    return [torch_name(name) for name in ms_names]
