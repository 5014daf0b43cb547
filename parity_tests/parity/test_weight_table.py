"""The weight table's recognition of porting faults, on random tensors of ERFNet's shapes: each fault, planted,
is named as that fault and nothing else; an untouched tensor passes; a float32 rounding of it passes too."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from parity.divergence import describe_block
from parity.weight_table import Recogniser, Stored, weight_rows

BLOCK = "encoder.layers.2"
TRANSPOSED = frozenset({"decoder.output_conv.weight"})


def reference_tensors(seed, channels, classes):
    generator = np.random.default_rng(seed)
    shapes = {f"{BLOCK}.conv3x1_1.weight": (channels, channels, 3, 1),
              f"{BLOCK}.conv1x3_1.weight": (channels, channels, 1, 3),
              f"{BLOCK}.bn1.gamma": (channels,), f"{BLOCK}.bn1.beta": (channels,),
              f"{BLOCK}.bn1.moving_mean": (channels,), f"{BLOCK}.bn1.moving_variance": (channels,),
              "encoder.initial_block.conv.weight": (13, 3, 3, 3),
              "encoder.layers.3.conv3x1_1.weight": (channels, channels, 3, 1),
              "decoder.output_conv.weight": (16, classes, 2, 2), "decoder.output_conv.bias": (classes,)}
    return {name: Stored(name, generator.standard_normal(shape).astype(np.float32).astype(np.float64), "float32")
            for name, shape in shapes.items()}


STEM = "encoder.initial_block.conv.weight"
GAMMA, BETA = f"{BLOCK}.bn1.gamma", f"{BLOCK}.bn1.beta"
MEAN, VARIANCE = f"{BLOCK}.bn1.moving_mean", f"{BLOCK}.bn1.moving_variance"
KERNEL_3X1, KERNEL_1X3 = f"{BLOCK}.conv3x1_1.weight", f"{BLOCK}.conv1x3_1.weight"
OTHER_3X1 = "encoder.layers.3.conv3x1_1.weight"
FAULTS = {
    "flipped spatially": (STEM, lambda r: r[STEM][..., ::-1, ::-1]),
    "flipped vertically": (STEM, lambda r: r[STEM][..., ::-1, :]),
    "transposed": (STEM, lambda r: r[STEM].swapaxes(-1, -2)),
    f"holds REF's {BETA}": (GAMMA, lambda r: r[BETA]),
    f"holds REF's {KERNEL_1X3}, transposed": (KERNEL_3X1, lambda r: r[KERNEL_1X3].swapaxes(-1, -2)),
    f"holds REF's {OTHER_3X1}": (KERNEL_3X1, lambda r: r[OTHER_3X1]),
    "at its initial value 0": (MEAN, lambda r: np.zeros_like(r[MEAN])),
    "at its initial value 1": (VARIANCE, lambda r: np.ones_like(r[VARIANCE])),
    "scaled by 1.001": (KERNEL_1X3, lambda r: 1.001 * r[KERNEL_1X3]),
    "output classes permuted": ("decoder.output_conv.weight", lambda r: r["decoder.output_conv.weight"][:, ::-1]),
    "NaN/inf": (BETA, lambda r: np.where(np.arange(r[BETA].size) == 1, np.inf, r[BETA])),
    "differs": (GAMMA, lambda r: r[GAMMA] + np.linspace(0, 1e-3, r[GAMMA].size)),
}


@pytest.mark.parametrize("kind", list(FAULTS))
@given(seed=st.integers(0, 2**16), channels=st.sampled_from([4, 16, 64]), classes=st.integers(2, 20))
def test_each_planted_fault_is_named_as_itself(kind, seed, channels, classes):
    reference = reference_tensors(seed, channels, classes)
    name, fault = FAULTS[kind]
    arrays = {key: tensor.array for key, tensor in reference.items()}
    finding = Recogniser(reference, TRANSPOSED).explain(name, np.ascontiguousarray(fault(arrays)))
    assert finding.kind == kind, finding


@given(seed=st.integers(0, 2**16), channels=st.sampled_from([4, 16, 64]))
def test_untouched_or_float32_rounded_tensors_pass_and_an_exchange_is_one_phrase(seed, channels):
    reference = reference_tensors(seed, channels, 20)
    ours = {name: Stored(tensor.key, tensor.array.astype(np.float32).astype(np.float64)
                         * (1 + 1e-7 * (name.endswith("gamma"))), "float32") for name, tensor in reference.items()}
    assert all(r.passed for r in weight_rows(reference, ours, TRANSPOSED))
    ours[MEAN], ours[VARIANCE] = ours[VARIANCE], ours[MEAN]
    rows = weight_rows(reference, ours, TRANSPOSED)
    assert [r.name for r in rows if not r.passed] == [MEAN, VARIANCE]
    assert describe_block(BLOCK, rows) == "bn1 moving_mean and moving_variance exchanged"


def test_missing_extra_and_retyped_tensors_are_findings():
    reference = reference_tensors(0, 4, 3)
    ours = dict(reference)
    del ours[GAMMA]
    ours[f"{BLOCK}.bn1.num_batches_tracked"] = Stored("num_batches_tracked", np.array(3.0), "int64")
    kernel = reference[KERNEL_1X3]
    ours[KERNEL_1X3] = Stored(kernel.key, kernel.array.astype(np.float16).astype(np.float64), "float16")
    rows = {r.name: r for r in weight_rows(reference, ours, TRANSPOSED,
                                           unused={"decoder.output_conv.bias": "not used"})}
    assert rows[GAMMA].verdict == "missing in OURS" and not rows[GAMMA].passed
    assert rows[f"{BLOCK}.bn1.num_batches_tracked"].verdict == "in OURS only"
    assert rows[KERNEL_1X3].verdict.startswith("dtype float16 where REF has float32; differs")
    assert sum(not r.passed for r in rows.values()) == 3
    del ours["decoder.output_conv.bias"]
    unused = weight_rows(reference, ours, TRANSPOSED, unused={"decoder.output_conv.bias": "not used"})[-2]
    assert unused.name == "decoder.output_conv.bias" and unused.passed and unused.verdict == "not in OURS: not used"
