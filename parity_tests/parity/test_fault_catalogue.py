"""The suite's proof that two-file parity can fail: every fault of fault_catalogue.FAULTS, planted in a correct
(REF, OURS) pair, fails the comparison with its block named first, by the weight table and, where the fault
changes what the network computes, by the layer-by-layer tables too; the clean pair passes. At erfnet_pytorch's 20
classes; at 5, whose loss rows weigh the classes uniformly (facts/loss_weights.py), the clean pair and the faults
in the class-dependent tensors (the catalogue's other faults compute nothing that depends on the class count)."""
import pytest

from convert import convert_file
from helpers.fault_catalogue import FAULTS, SIZE, run_fault
from helpers.upstream_weights import save_upstream
from parity.files import read_ours, read_reference
from parity.divergence import block_ranks, table_block
from parity.pair import compare


CLASS_DEPENDENT = [fault for fault in FAULTS if fault.block in ("decoder.output_conv", "encoder.output_conv")]


def pair_of(folder, classes):
    save_upstream(folder / "ref.pth", num_classes=classes)
    convert_file(folder / "ref.pth", folder / "ours.ckpt")
    return read_reference(folder / "ref.pth"), read_ours(folder / "ours.ckpt")


@pytest.fixture(scope="module")
def clean_pair(tmp_path_factory):
    return pair_of(tmp_path_factory.mktemp("pair"), 20)


@pytest.fixture(scope="module")
def five_class_pair(tmp_path_factory):
    return pair_of(tmp_path_factory.mktemp("pair5"), 5)


@pytest.mark.parametrize("pair", ["clean_pair", "five_class_pair"])
def test_the_clean_pair_passes(pair, request):
    result = compare(*request.getfixturevalue(pair), **SIZE)
    assert result.passed and result.first_divergence is None, result.first_divergence
    assert len(result.weights) == 306 and {r.verdict for r in result.weights} == {"equal"}
    assert result.first_failing_row is None


@pytest.mark.parametrize("fault", FAULTS, ids=[fault.name for fault in FAULTS])
def test_every_planted_fault_is_caught_in_its_block(clean_pair, fault):
    assert_caught_in_its_block(fault, clean_pair)


@pytest.mark.parametrize("fault", CLASS_DEPENDENT, ids=[fault.name for fault in CLASS_DEPENDENT])
def test_faults_in_the_class_dependent_tensors_are_caught_at_5_classes(five_class_pair, fault):
    assert_caught_in_its_block(fault, five_class_pair)


def assert_caught_in_its_block(fault, pair):
    result = run_fault(fault, *pair)
    assert not result.passed
    assert result.first_divergence.block == fault.block, str(result.first_divergence)
    assert fault.words in result.first_divergence.why, str(result.first_divergence)
    failing = {table_block(t, r) for t in result.tables for r in t.rows if not r.passed}
    if fault.computes_differently:
        assert min(failing, key=block_ranks().get) == fault.block, sorted(failing)
    else:
        assert not failing, sorted(failing)
