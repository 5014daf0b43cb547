"""The demo's parity step decides every row at its default size and seed, and says in one line per table why
rows it cannot decide (at other sizes) have no bar."""
import argparse

import pytest

from erfnet.commands import demo
from parity.engine import GRADIENT_TOLERANCE, Row
from parity.report import GRADIENTS, Table


@pytest.mark.slow
def test_every_row_of_the_demos_parity_is_decided_at_its_default_size(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    demo.add_arguments(parser)
    args = parser.parse_args([])
    assert (args.parity_height, args.parity_width) == demo.PARITY_SIZE
    assert demo.parity_step(tmp_path, args)
    out = capsys.readouterr().out
    assert " n/a" not in out and "FAIL" not in out and out.count(" pass\n") > 100


def test_each_table_with_undecided_rows_says_where_and_why_in_one_line():
    undecided = [Row(f"encoder.layers.{i}.conv3x1_1.weight", (64,), 1.0, 1.0, GRADIENT_TOLERANCE, comparable=False)
                 for i in (3, 3, 5)]
    decided = Row("encoder.layers.4.conv3x1_1.weight", (64,), 0.0, 0.0, GRADIENT_TOLERANCE)
    tables = [Table(GRADIENTS, [*undecided, decided], ""), Table("loss", [decided], "", True),
              Table("Weighted loss and gradients through the full network, eval mode", undecided, "", True)]
    lines = demo.undecided(tables)
    assert len(lines) == 2
    assert lines[0].startswith('n/a: 3 rows of "Gradients per block, train mode" in encoder.layers.3, '
                               'encoder.layers.5: a ReLU input lies within float32 rounding of 0')
    assert "through the whole network" in lines[1]
