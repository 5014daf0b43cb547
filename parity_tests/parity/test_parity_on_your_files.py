"""The parity tests on your own files, one test per table and block with the table's bar, so a CI job gets
pytest's own report (JUnit XML included):

    pytest parity_tests -m parity --weights model.pth                        # both networks from one file
    pytest parity_tests -m parity --weights model.ckpt --reference model.pth   # a .ckpt against its .pth
    pytest parity_tests -m parity --weights model.pth --size 512x1024 --junitxml parity.xml

The tables are those of `erfnet parity` (parity/report.py, parity/pair.py): forward in eval and in train mode,
gradients and BatchNorm statistics per block, the weighted loss and the gradients through the whole network,
and with --reference the weights tensor by name. A test passes when every row of its table in its block is
within the bar; it is skipped, saying why, where no row applies (a block the file lacks) or no bar can decide
(n/a: a ReLU input within float32 rounding of 0, which a smaller --size avoids). Without --weights the same
tests run on the suite's random weights: erfnet_pytorch-format REF and its conversion by `erfnet convert`.
"""
from dataclasses import dataclass

import pytest

from convert import convert_file, read_weights
from facts.errors import UserError
from helpers.upstream_weights import save_upstream
from parity.divergence import block_ranks, describe_block, table_block
from parity.engine import network_pair
from parity.pair import compare_files
from parity.report import EVAL_FORWARD, GRADIENTS, STATISTICS, TRAIN_FORWARD, layer_tables
from parity.weight_table import WEIGHT_TOLERANCE

pytestmark = [pytest.mark.parity, pytest.mark.slow]  # one comparison for all 127 tests: about 2 min on 2 cores

DEFAULT_SIZE = "16x32"
BATCH, SEED = 2, 0
BLOCKS = list(block_ranks())  # every block in network order, then "network"
PATHS = ("full network", "encoder + head (only_encode)")
UNDECIDED = ("n/a: a ReLU input lies within float32 rounding of 0, where either framework may round it to the "
             "other side, so no bar applies; a smaller --size decides it")


@dataclass
class Outcome:
    """The layer tables (parity.report.Table) and, with a reference, the weight table (WeightRow)."""
    tables: list
    weights: list = None


def input_size(text):
    try:
        height, width = (int(side) for side in text.lower().split("x"))
    except ValueError:
        raise UserError(f"--size {text!r}: give HEIGHTxWIDTH, e.g. 512x1024") from None
    return height, width


def compute(options, folder):
    weights, reference = options.getoption("weights"), options.getoption("reference")
    height, width = input_size(options.getoption("size") or DEFAULT_SIZE)
    if weights is None:
        if reference is not None:
            raise UserError("--reference REF needs --weights FILE, the file to check against it")
        save_upstream(folder / "reference.pth")
        convert_file(folder / "reference.pth", folder / "ours.ckpt")
        weights, reference = folder / "ours.ckpt", folder / "reference.pth"
    if reference is not None:
        result = compare_files(reference, weights, height, width, BATCH, SEED)
        return Outcome(result.tables, result.weights)
    return Outcome(layer_tables(network_pair(read_weights(weights)), height, width, BATCH, SEED))


@pytest.fixture(scope="session")
def outcome(request, tmp_path_factory):
    """The comparison of the files the options name (or of random weights), computed once per session."""
    try:
        return compute(request.config, tmp_path_factory.mktemp("parity"))
    except UserError as error:
        pytest.fail(str(error), pytrace=False)


def table_rows(outcome, title, block):
    table = next((table for table in outcome.tables if table.title == title), None)
    return [] if table is None else [row for row in table.rows if table_block(table, row) == block]


def check(rows, where, record_property):
    """Pass when every row is within its bar; skip when no row applies or none can be decided."""
    if not rows:
        pytest.skip(f"{where}: no rows here (the file has no such block, or the block no such tensors)")
    decided = [row for row in rows if row.comparable]
    if not decided:
        pytest.skip(f"{where}: {UNDECIDED}")
    worst = max(decided, key=lambda row: row.relative / row.tolerance)
    record_property("bar", worst.tolerance)
    record_property("worst_relative_error", worst.relative)
    failing = [row for row in decided if not row.passed]
    assert not failing, f"{where}: " + "; ".join(f"{row.name} differs by {row.relative:.3g} relative (bar "
                                                 f"{row.tolerance:.0e})" for row in failing[:5])


@pytest.mark.parametrize("block", BLOCKS)
def test_forward_eval_mode(outcome, block, record_property):
    check(table_rows(outcome, EVAL_FORWARD, block), block, record_property)


@pytest.mark.parametrize("block", BLOCKS[:-1])
def test_forward_train_mode(outcome, block, record_property):
    check(table_rows(outcome, TRAIN_FORWARD, block), block, record_property)


@pytest.mark.parametrize("block", BLOCKS[:-1])
def test_gradients(outcome, block, record_property):
    check(table_rows(outcome, GRADIENTS, block), block, record_property)


@pytest.mark.parametrize("block", BLOCKS[:-1])
def test_batchnorm_statistics(outcome, block, record_property):
    check(table_rows(outcome, STATISTICS, block), block, record_property)


def end_to_end_rows(outcome, path, mode):
    """The rows of the table through `path` in `mode` ("train": the loss; "eval": loss and gradients)."""
    mark = f"through the {path}, {mode} mode"
    return next((table.rows for table in outcome.tables if table.end_to_end and mark in table.title), [])


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("path", PATHS)
def test_loss(outcome, path, mode, record_property):
    rows = [row for row in end_to_end_rows(outcome, path, mode) if row.name == "loss"]
    check(rows, f"weighted loss through the {path}, {mode} mode", record_property)


@pytest.mark.parametrize("path", PATHS)
def test_gradients_through_the_network(outcome, path, record_property):
    rows = [row for row in end_to_end_rows(outcome, path, "eval") if row.name != "loss"]
    check(rows, f"gradients through the {path}, eval mode", record_property)


@pytest.mark.parametrize("block", BLOCKS[:-1])
def test_weights(outcome, block, record_property):
    if outcome.weights is None:
        pytest.skip("one file: both networks hold its weights; give --reference REF to compare two files")
    rows = [row for row in outcome.weights if row.block == block]
    if not rows:
        pytest.skip(f"{block}: no tensors here in either file")
    record_property("bar", WEIGHT_TOLERANCE)
    assert all(row.passed for row in rows), f"{block}: {describe_block(block, outcome.weights)}"
