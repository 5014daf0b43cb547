"""Two-file parity: is this MindSpore checkpoint (OURS) faithful to that PyTorch file (REF)?

REF is read into torch_ref and OURS into ms_erfnet, each the way its own framework reads it (parity/files.py).
The weight table compares every tensor by name and recognises the usual porting faults (parity/weight_table.py);
a difference of upsampler alignment is measured as `erfnet convert --realign` measures it. Then come the
layer-by-layer tables of the one-file mode (parity/report.py), each network holding its own file's weights and,
for the eval-mode comparisons, erfnet_pytorch's dropout rates (in eval mode dropout must do nothing). The result
names the first block, in network order, where anything differs, and why when the weight table knows.

compare_files(REF path, OURS path) and compare_weights(torch state_dict, MindSpore-named arrays) are the API;
compare(ReferenceFile, OursFile) runs a pair already read.
"""
import copy
from dataclasses import dataclass

import torch

from convert.names import DECODER, ENCODER_HEAD, part_of
from convert.realign import alignment_change
from facts.errors import UserError
from facts.spec import layer_table
from parity.divergence import Divergence, first_divergence
from parity.engine import NO_DROPOUT, NetworkPair
from parity.files import OursFile, ReferenceFile, ours_from, ours_network, read_ours, read_reference, reference_from
from parity.report import check_input, layer_tables
from parity.weight_table import WEIGHT_TOLERANCE, Finding, WeightRow, format_weight_table, weight_rows

ALIGN_ROW = "upsample_align"
UNUSED_HEAD = "the full network does not use the encoder head"


@dataclass
class PairResult:
    """Everything a two-file run found: the files as read, the weight table, the layer tables (parity.report.Table),
    and the first divergence (None when nothing differs)."""
    reference: ReferenceFile
    ours: OursFile
    input_shape: tuple
    weights: list
    tables: list
    first_divergence: Divergence

    @property
    def passed(self):
        return all(r.passed for r in self.weights) and all(r.passed for t in self.tables for r in t.rows)

    @property
    def first_failing_row(self):
        """(table title, parity.engine.Row): the first layer-table row beyond its bar, in report order, or None."""
        return next(((t.title, r) for t in self.tables for r in t.rows if not r.passed), None)

    def text(self):
        ref, ours = self.reference, self.ours
        n = ref.num_classes or ours.num_classes or 20
        lines = [f"REF  {ref.source}: {classes(ref.num_classes)}, {', '.join(ref.parts)}; in torch_ref "
                 f"({'Net' if DECODER in ref.parts else 'Net.encoder'}) by load_state_dict(strict=True)"]
        lines += [f"  note: {note}" for note in ref.notes]
        lines.append(f"OURS {ours.source}: {classes(ours.num_classes)}, {', '.join(ours.parts)}, upsampler alignment "
                     f"{ours.upsample_align} ({ours.align_origin}); in ms_erfnet.ERFNet({n}) by load_param_into_net")
        lines += [f"  note: {note}" for note in ours.notes]
        lines.append(f"input {'x'.join(map(str, self.input_shape))}; OURS in float32 against REF in torch_ref, "
                     f"float64")
        title = (f"Weights: every parameter and BatchNorm buffer by name (bar: max abs difference <= "
                 f"{WEIGHT_TOLERANCE:.0e} x max |REF|, same dtype)")
        differing = sum(not r.passed for r in self.weights)
        summary = (f"{differing} of {len(self.weights)} rows differ" if differing
                   else f"all {len(self.weights)} rows within the bar")
        parts = ["\n".join(lines), f"{format_weight_table(self.weights, title)}\n{summary}"]
        parts += [t.text for t in self.tables]
        if self.first_divergence:
            parts.append(str(self.first_divergence))
        return "\n\n".join(parts)


def classes(count):
    return f"{count} classes" if count else "no head (class count unknown)"


def first_upsampler():
    kinds = [block.kind for block in layer_table().decoder_layers]
    return f"decoder.layers.{kinds.index('upsampler')}"


def alignment_row(ours, num_classes):
    """The weight-table row for OURS computing with another upsampler alignment than REF (always torch's: a
    PyTorch file knows no other), with the output change of OURS's weights under the two."""
    change = alignment_change(lambda align: ours_network(ours, num_classes, NO_DROPOUT, align), ours.upsample_align,
                              "torch")
    detail = (f"upsampler alignment differs: OURS computes with the {ours.upsample_align} alignment, REF with torch's; "
              f"OURS's weights under REF's alignment: {change.measured(ours.upsample_align, 'torch')}")
    return WeightRow(ALIGN_ROW, "upsampler alignment: torch", f"upsampler alignment: {ours.upsample_align}", (), None,
                     detail, False, Finding("upsampler alignment differs", detail), block=first_upsampler())


def compare(reference, ours, height=64, width=128, batch=2, seed=0, end_to_end=True):
    """The PairResult of OURS against REF (parity.files.ReferenceFile and OursFile) on a random input of
    batch x 3 x height x width drawn from `seed`. A class count that differs is a UserError. `end_to_end=False`
    leaves out the comparisons through the whole network (they name no block: the fault catalogue does without)."""
    check_input(height, width, batch)
    if reference.num_classes and ours.num_classes and reference.num_classes != ours.num_classes:
        raise UserError(f"{ours.source}: holds weights for {ours.num_classes} classes, {reference.source} for "
                        f"{reference.num_classes}: not the same network")
    num_classes = reference.num_classes or ours.num_classes or 20
    parts = reference.parts
    unused = {}
    if DECODER in parts and DECODER in ours.parts and ENCODER_HEAD not in ours.parts:
        unused = {name: UNUSED_HEAD for name in reference.tensors if part_of(name) == ENCODER_HEAD}
        parts = tuple(part for part in parts if part != ENCODER_HEAD)
    transposed = {f"{name}.weight" for name, module in reference.net.named_modules()
                  if isinstance(module, torch.nn.ConvTranspose2d)}
    weights = weight_rows(reference.tensors, ours.tensors, transposed, unused)
    if DECODER in parts and DECODER in ours.parts and ours.upsample_align != "torch":
        weights.append(alignment_row(ours, num_classes))
    pair = NetworkPair(copy.deepcopy(reference.net).double(), ours_network(ours, num_classes, None), parts)
    tables = layer_tables(pair, height, width, batch, seed, end_to_end)
    return PairResult(reference, ours, (batch, 3, height, width), weights, tables, first_divergence(weights, tables))


def compare_files(reference_path, ours_path, height=64, width=128, batch=2, seed=0):
    """OURS (a MindSpore checkpoint) against REF (a PyTorch file); unreadable or incompatible files raise a
    UserError naming the file."""
    return compare(read_reference(reference_path), read_ours(ours_path), height, width, batch, seed)


def compare_weights(reference_state, ours_arrays, upsample_align=None, height=64, width=128, batch=2, seed=0):
    """The same on weights in memory: `reference_state` as torch.load gives a REF file (a state_dict in any layout
    erfnet_pytorch writes), `ours_arrays` name -> array or MindSpore tensor under MindSpore names (this project's
    or the zoo's); `upsample_align` is OURS's (default: the zoo's for zoo names, else torch's)."""
    return compare(reference_from(reference_state), ours_from(ours_arrays, upsample_align=upsample_align), height,
                   width, batch, seed)
