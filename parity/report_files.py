"""The parity verdict as files: parity.json for programs (a CI job) and parity.png for people.

parity.json holds every row of every table (the weight table of a two-file run included), the verdict and the
first divergence; its schema is in docs/parity-report.md (SCHEMA names its version). parity.png shows, per
block in network order, each table's worst relative error divided by that table's bar on a log scale (so every
table's bar is the line at 1), the blocks whose weights differ shaded and the first divergence marked. Drawn by
matplotlib's Agg canvas (no display, no pyplot state); both files are written atomically.
"""
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facts.atomic import atomic_output
from parity.divergence import Divergence, block_ranks, first_divergence, table_block
from parity.weight_table import WEIGHT_TOLERANCE, scale_of

SCHEMA = "erfnet-parity-report/1"
JSON_NAME = "parity.json"
PNG_NAME = "parity.png"
WEIGHT_TABLE = "Weights: every parameter and BatchNorm buffer by name"
MARKERS = "osD^v<>ph*"
CEILING = 1e6  # where a NaN or infinite error is drawn, in multiples of the bar


@dataclass(frozen=True)
class ReportRow:
    """One row of the report: the table it belongs to, the block it measures, the row's own name (a block, a
    tensor, "loss"), its shape, errors (None when not a finite number) and result ("pass", "fail" or "n/a")."""
    table: str
    block: str
    name: str
    shape: tuple
    max_abs_error: object
    relative_error: object
    bar: float
    result: str
    note: str = ""


def finite(value):
    return float(value) if value is not None and math.isfinite(value) else None


def layer_rows(tables):
    """ReportRows of every row of parity.report Tables, whose rows are parity.engine Rows."""
    return [ReportRow(table.title, table_block(table, row), row.name, tuple(int(s) for s in row.shape),
                      finite(row.max_abs), finite(row.relative), row.tolerance, row.result.lower())
            for table in tables for row in table.rows]


def weight_report_rows(weights, reference_tensors):
    """ReportRows of a two-file run's weight table (parity.weight_table.WeightRow), the relative error against
    REF's largest magnitude of that tensor, as the bar measures it."""
    rows = []
    for row in weights:
        reference = reference_tensors.get(row.name)
        scale = scale_of(reference.array) if reference is not None else 0.0
        relative = row.max_abs / scale if row.max_abs is not None and scale > 0 else row.max_abs
        rows.append(ReportRow(WEIGHT_TABLE, row.block, row.name, tuple(int(s) for s in row.shape),
                              finite(row.max_abs), finite(relative), WEIGHT_TOLERANCE,
                              "pass" if row.passed else "fail", row.verdict))
    return rows


@dataclass
class ParityReport:
    """What `erfnet parity --report DIR` writes: the run's files and input, its rows, and the first divergence
    (a parity.pair.Divergence, or None)."""
    weights: str
    reference: object
    input_shape: tuple
    rows: list
    divergence: object

    @property
    def passed(self):
        return all(row.result != "fail" for row in self.rows)

    def as_json(self):
        divergence = self.divergence and {"block": self.divergence.block, "reason": self.divergence.why}
        return {"schema": SCHEMA, "weights": self.weights, "reference": self.reference,
                "input_shape": list(self.input_shape), "verdict": "pass" if self.passed else "fail",
                "first_divergence": divergence,
                "rows": [{"table": r.table, "block": r.block, "name": r.name, "shape": list(r.shape),
                          "max_abs_error": r.max_abs_error, "relative_error": r.relative_error, "bar": r.bar,
                          "result": r.result, "note": r.note} for r in self.rows]}


def one_file_report(weights_path, input_shape, tables):
    """The report of `erfnet parity --weights FILE`: both networks hold one file's weights, so only the layer
    tables can diverge."""
    return ParityReport(str(weights_path), None, input_shape, layer_rows(tables), one_file_divergence(tables))


def one_file_divergence(tables):
    """The first diverging block of a one-file run, with its first failing row: both networks hold the same
    weights there, so the reason is never a weight."""
    found = first_divergence([], tables)
    if found is None:
        return None
    title, row = next((table.title, row) for table in tables for row in table.rows
                      if not row.passed and table_block(table, row) == found.block)
    return Divergence(found.block, f"{short_title(title)}: {row.name} differs by {row.relative:.2g} (bar "
                                   f"{row.tolerance:.0e}) with both networks holding this file's weights")


def two_file_report(result):
    """The report of `erfnet parity --reference REF --weights FILE` from its parity.pair.PairResult."""
    rows = weight_report_rows(result.weights, result.reference.tensors) + layer_rows(result.tables)
    return ParityReport(str(result.ours.source), str(result.reference.source), result.input_shape, rows,
                        result.first_divergence)


def write_report(report, folder):
    """Write parity.json and parity.png into `folder` (made if missing); returns their paths."""
    folder = Path(folder)
    json_path, png_path = folder / JSON_NAME, folder / PNG_NAME
    with atomic_output(json_path) as temporary:
        temporary.write_text(json.dumps(report.as_json(), indent=1, allow_nan=False) + "\n")
    figure = report_figure(report)
    with atomic_output(png_path) as temporary:
        figure.savefig(temporary, format="png")
    return json_path, png_path


def worst_per_block(rows):
    """{block: worst relative error / bar} of `rows` that have a result (n/a rows decide nothing); NaN or
    infinite errors count as CEILING."""
    worst = {}
    for row in rows:
        if row.result == "n/a":
            continue
        ratio = CEILING if row.relative_error is None else row.relative_error / row.bar
        worst[row.block] = max(worst.get(row.block, 0.0), min(ratio, CEILING))
    return worst


def report_figure(report):
    """The chart: x the blocks in network order, y each layer table's worst error in the block over its bar."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ranks = block_ranks()
    blocks = sorted({row.block for row in report.rows}, key=lambda name: ranks.get(name, len(ranks)))
    position = {block: index for index, block in enumerate(blocks)}
    figure = Figure(figsize=(max(8.0, 0.42 * len(blocks) + 3), 6.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    differing_weights = {row.block for row in report.rows if row.table == WEIGHT_TABLE and row.result == "fail"}
    for block in differing_weights:
        axes.axvspan(position[block] - 0.5, position[block] + 0.5, color="orange", alpha=0.25, linewidth=0)
    tables = list(dict.fromkeys(row.table for row in report.rows if row.table != WEIGHT_TABLE))
    floor = 1e-6
    for index, table in enumerate(tables):
        worst = worst_per_block([row for row in report.rows if row.table == table])
        if not worst:
            continue
        names = sorted(worst, key=position.get)
        values = np.maximum([worst[name] for name in names], floor)
        axes.plot([position[name] for name in names], values, marker=MARKERS[index % len(MARKERS)], linestyle=":",
                  linewidth=0.8, label=short_title(table))
    axes.axhline(1.0, color="black", linewidth=1.2)
    axes.text(len(blocks) - 0.5, 1.0, " bar", va="center", fontsize=8)
    axes.set_yscale("log")
    axes.set_ylim(floor / 2, CEILING * 4)
    axes.set_xticks(range(len(blocks)), labels=blocks, rotation=70, ha="right", fontsize=7)
    axes.set_xlim(-0.5, len(blocks) - 0.5)
    axes.set_ylabel("worst relative error / the table's bar (log)")
    if report.divergence is not None:
        spot = position.get(report.divergence.block, len(blocks) - 1)
        axes.axvline(spot, color="red", linewidth=1.5, linestyle="--")
        axes.annotate(f"first divergence: {report.divergence.block}", (spot, CEILING), xytext=(4, -4),
                      textcoords="offset points", color="red", fontsize=8, va="top")
    verdict = "PASS: every row within its bar" if report.passed else "FAIL"
    title = f"{Path(report.weights).name}" + (f" against {Path(report.reference).name}" if report.reference else "")
    axes.set_title(f"{title}, input {'x'.join(map(str, report.input_shape))}: {verdict}", fontsize=10)
    if differing_weights:
        axes.plot([], [], color="orange", alpha=0.4, linewidth=8, label="weights differ from REF's")
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    undecided = sum(row.result == "n/a" for row in report.rows)
    if undecided:
        figure.text(0.99, 0.01, f"{undecided} n/a rows (a ReLU input within float32 rounding of 0) are not drawn",
                    fontsize=7, ha="right")
    if report.divergence is not None:
        figure.text(0.01, 0.01, str(report.divergence)[:200], fontsize=7, color="red")
    figure.tight_layout(rect=(0, 0.03, 1, 1))
    return figure


def short_title(title):
    """A table's title up to its first colon or parenthesis, for the legend."""
    return title.split(" (")[0].split(":")[0]
