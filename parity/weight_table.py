"""The weight table of a two-file parity run: every parameter and BatchNorm buffer of REF against OURS, by name,
and, where a tensor differs, which of the usual porting faults it is.

A tensor passes when its largest absolute difference is at most WEIGHT_TOLERANCE of REF's largest magnitude (a
float32 copy is exact; the bar leaves room for a copy made through float64) and its dtype is REF's. A tensor that
differs is recognised, in this order, as: holding NaN/inf where REF is finite; a constant (BatchNorm statistics
left at MindSpore's initial 0/1); another REF tensor, or its own, as it is or transposed, flipped or with its
channel axes exchanged (two tensors exchanged, a 3x1 kernel where the 1x3 belongs, a copy of another layer's);
REF's scaled; REF's permuted along one axis (output classes permuted). Otherwise it simply differs.
"""
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from parity.divergence import block_of

WEIGHT_TOLERANCE = 1e-6
BATCHNORM_INITIAL = {"gamma": 1.0, "beta": 0.0, "moving_mean": 0.0, "moving_variance": 1.0}
OUTPUT_CONVS = ("encoder.output_conv.", "decoder.output_conv.")
TRANSFORMS = (
    ("transposed", lambda a: a.swapaxes(-1, -2)),
    ("flipped spatially", lambda a: a[..., ::-1, ::-1]),
    ("flipped vertically", lambda a: a[..., ::-1, :]),
    ("flipped horizontally", lambda a: a[..., :, ::-1]),
    ("with its input and output channel axes exchanged", lambda a: a.swapaxes(0, 1)),
)
SHOWN = 3


@dataclass(frozen=True)
class Stored:
    """One tensor as a file holds it: its key there, its values (float64) and its dtype as stored."""
    key: str
    array: np.ndarray
    dtype: str


@dataclass(frozen=True)
class Finding:
    """What a differing OURS tensor is: `kind` in words that hold for several tensors alike ("transposed",
    "scaled by 1.001"), `detail` with this tensor's particulars, `partner` the REF tensor it holds when that is
    another one."""
    kind: str
    detail: str
    partner: str = ""


@dataclass
class WeightRow:
    name: str            # this project's name of the tensor
    reference_key: str   # its key in REF ("" when REF has none)
    ours_key: str        # its key in OURS ("" when OURS has none)
    shape: tuple
    max_abs: float       # None when there is nothing to subtract
    verdict: str
    passed: bool
    finding: Finding = None
    block: str = ""

    def __post_init__(self):
        self.block = self.block or block_of(self.name)


def difference(ours, reference):
    """max |ours - reference|, with NaN or inf where only one side has it counting as inf."""
    if not ours.size:
        return 0.0
    with np.errstate(invalid="ignore"):
        gap = np.abs(ours - reference)
    same = (np.isnan(ours) & np.isnan(reference)) | (np.isinf(ours) & (ours == reference))
    gap[same] = 0.0
    return float(np.nan_to_num(gap, nan=np.inf).max())


def scale_of(array):
    finite = np.abs(array[np.isfinite(array)])
    return float(finite.max()) if finite.size else 0.0


def close(ours, reference):
    return ours.shape == reference.shape and difference(ours, reference) <= WEIGHT_TOLERANCE * scale_of(reference)


def output_axis(name, transposed):
    """The output-channel axis of a weight: 1 for transposed convs (PyTorch and MindSpore store them (in, out,
    kh, kw)), else 0."""
    return 1 if name in transposed and name.endswith(".weight") else 0


def axis_label(name, axis, ndim, transposed):
    if axis == output_axis(name, transposed):
        return "output classes" if name.startswith(OUTPUT_CONVS) else "output channels"
    if ndim == 4 and axis == 1 - output_axis(name, transposed):
        return "input channels"
    return f"axis {axis}"


def permutation(ours, reference, axis):
    """p with ours[i] == reference[p[i]] along `axis` (exactly), or None."""
    count = ours.shape[axis]
    ours_rows = np.moveaxis(ours, axis, 0).reshape(count, -1)
    reference_rows = np.moveaxis(reference, axis, 0).reshape(count, -1)
    where = defaultdict(list)
    for j, row in enumerate(reference_rows):
        where[row.tobytes()].append(j)
    found = []
    for row in ours_rows:
        places = where.get(row.tobytes())
        if not places:
            return None
        found.append(places.pop())
    return found


class Recogniser:
    """Explains an OURS tensor that differs from REF's, against every REF tensor."""

    def __init__(self, reference, transposed=frozenset()):
        self.reference = reference
        self.transposed = transposed
        self.order = {name: index for index, name in enumerate(reference)}
        self.by_shape = defaultdict(list)
        for name, tensor in reference.items():
            self.by_shape[tensor.array.shape].append(name)

    def candidates(self, name, shape):
        """REF tensors of `shape`: the same module's first, then the same block's, then the nearest."""
        module = name.rpartition(".")[0]
        here = self.order.get(name, len(self.order))
        return sorted(self.by_shape.get(shape, ()),
                      key=lambda other: (other.rpartition(".")[0] != module, block_of(other) != block_of(name),
                                         abs(self.order[other] - here)))

    def holding(self, name, ours):
        """(transform, REF tensor) such that OURS's tensor is that REF tensor so transformed, or None."""
        forms = [("", ours)]
        for label, transform in TRANSFORMS:
            if ours.ndim == 4:
                moved = transform(ours)
                if moved.shape != ours.shape or not np.array_equal(moved, ours):
                    forms.append((label, moved))
        for label, form in forms:
            for other in self.candidates(name, form.shape):
                if (label or other != name) and close(form, self.reference[other].array):
                    return label, other
        return None

    def explain(self, name, ours):
        """The Finding for `ours` (float64 values) under `name`, which is not REF's tensor of that name."""
        reference = self.reference[name].array if name in self.reference else None
        if reference is not None and reference.shape == ours.shape:
            bad = ~np.isfinite(ours) & np.isfinite(reference)
            if bad.any():
                return Finding("NaN/inf", f"{int(bad.sum())} NaN/inf entries where REF's are finite")
        leaf = name.rpartition(".")[2]
        if ours.size > 1 and np.all(ours == ours.flat[0]) and np.isfinite(ours.flat[0]):
            value = float(ours.flat[0])
            initial = BATCHNORM_INITIAL.get(leaf) == value
            kind = f"at its initial value {value:g}" if initial else f"all {value:g}"
            return Finding(kind, kind + " (REF's is not)")
        held = self.holding(name, ours)
        if held is not None:
            label, other = held
            if other == name:
                return Finding(label, label)
            kind = f"holds REF's {other}" + (f", {label}" if label else "")
            return Finding(kind, kind, other)
        if reference is None:
            return None
        if reference.shape != ours.shape:
            shapes = f"shape {'x'.join(map(str, ours.shape))} where REF has {'x'.join(map(str, reference.shape))}"
            return Finding(shapes, shapes)
        norm = float(np.sum(reference * reference))
        if norm > 0:
            factor = float(np.sum(ours * reference)) / norm
            if close(ours, factor * reference):
                return Finding(f"scaled by {factor:.6g}", f"REF's scaled by {factor:.6g}")
        first = output_axis(name, self.transposed)
        for axis in sorted(range(ours.ndim), key=lambda a: a != first):
            if ours.shape[axis] > 1:
                order = permutation(ours, reference, axis)
                if order is not None:
                    moved = [(i, j) for i, j in enumerate(order) if i != j]
                    kind = f"{axis_label(name, axis, ours.ndim, self.transposed)} permuted"
                    shown = ", ".join(f"{i} holds {j}" for i, j in moved[:SHOWN])
                    return Finding(kind, f"{kind}: {len(moved)} of {len(order)} moved ({shown}"
                                         + (", ..." if len(moved) > SHOWN else "") + ")")
        gap = difference(ours, reference)
        scale = scale_of(reference)
        relative = f", {gap / scale:.2g} of max |REF|" if scale else ""
        return Finding("differs", f"differs: max abs {gap:.3g}{relative}")


def weight_rows(reference, ours, transposed=frozenset(), unused=None):
    """Rows for every tensor of REF and OURS (dicts of this project's name -> Stored), REF's order first, then
    OURS's extras. `transposed`: names of transposed-conv weights; `unused`: name -> why a tensor absent from OURS
    does not count (the encoder head of a full network)."""
    recogniser = Recogniser(reference, transposed)
    unused = unused or {}
    rows = []
    for name, mine in reference.items():
        if name not in ours:
            why = unused.get(name)
            verdict = f"not in OURS: {why}" if why else "missing in OURS"
            rows.append(WeightRow(name, mine.key, "", mine.array.shape, None, verdict, bool(why),
                                  None if why else Finding("missing in OURS", verdict)))
            continue
        theirs = ours[name]
        same_shape = theirs.array.shape == mine.array.shape
        gap = difference(theirs.array, mine.array) if same_shape else None
        finding = None if close(theirs.array, mine.array) else recogniser.explain(name, theirs.array)
        if theirs.dtype != mine.dtype:
            dtype = f"dtype {theirs.dtype} where REF has {mine.dtype}"
            finding = Finding(dtype, dtype + (f"; {finding.detail}" if finding else ""), finding.partner if finding
                              else "")
        verdict = finding.detail if finding else "equal" if gap == 0 else "within bar"
        rows.append(WeightRow(name, mine.key, theirs.key, mine.array.shape, gap, verdict, finding is None, finding))
    for name, theirs in ours.items():
        if name not in reference:
            finding = recogniser.explain(name, theirs.array)
            verdict = "in OURS only" + (f" ({finding.detail})" if finding else "")
            rows.append(WeightRow(name, "", theirs.key, theirs.array.shape, None, verdict, False,
                                  Finding("in OURS only", verdict, finding.partner if finding else "")))
    return rows


def format_weight_table(rows, title):
    width = max([len(r.reference_key) for r in rows] + [len(r.ours_key) for r in rows] + [8])
    lines = [title, f"{'REF name':<{width}} {'OURS name':<{width}} {'shape':<16} {'max abs diff':>12}  verdict"]
    for r in rows:
        gap = "-" if r.max_abs is None else f"{r.max_abs:.3e}"
        lines.append(f"{r.reference_key or '-':<{width}} {r.ours_key or '-':<{width}} "
                     f"{'x'.join(map(str, r.shape)) or '-':<16} {gap:>12}  {r.verdict}")
    return "\n".join(lines)
