"""What a training-outcome comparison shows: the curves as CSV and PNG, a table per framework and the verdict.

The verdict compares the mean final val mIoU of the two frameworks against their seed-to-seed spread:
    |mean_MindSpore - mean_PyTorch| <= max(FLOOR, SPREADS x pooled standard deviation)
with the pooled sd sqrt((s_MindSpore^2 + s_PyTorch^2) / 2) of the per-seed finals (sample sds, ddof 1). Why:
with n seeds per side the difference of the means has a standard error of pooled_sd * sqrt(2 / n); for n = 3
a two-sided 5% t-test (4 degrees of freedom, t = 2.78) allows 2.78 * 0.82 = 2.27 pooled sds, so 2 pooled sds is
that test made a little stricter, and it stays meaningful (if looser) for more seeds. The floor of 0.02 mIoU
keeps a lucky agreement of a few seeds from demanding more than a user could see; with one seed there is no
spread and the floor alone is the bound.
"""
import csv
import json
import math
from dataclasses import dataclass

import numpy as np

from facts.atomic import atomic_output
from outcome.comparison import FRAMEWORK_NAMES, FRAMEWORKS

FLOOR = 0.02
SPREADS = 2.0
CSV_COLUMNS = ("framework", "seed", "stage", "epoch", "train_loss", "val_miou", "images_per_s", "seconds")


@dataclass(frozen=True)
class FrameworkSummary:
    """A framework over its seeds: final val mIoUs, training images/s over all its epochs (data loading and
    compilation included), the median of its epochs' images/s (the steady rate), and its runs' wall and CPU
    time."""
    framework: str
    finals: tuple
    images_per_s: float
    median_epoch_images_per_s: float
    wall_seconds: float
    cpu_seconds: float

    @property
    def mean(self):
        return float(np.mean(self.finals))

    @property
    def sd(self):
        """Sample standard deviation over seeds (NaN for one seed)."""
        return float(np.std(self.finals, ddof=1)) if len(self.finals) > 1 else float("nan")


@dataclass(frozen=True)
class Verdict:
    difference: float
    pooled_sd: float
    bound: float

    @property
    def passed(self):
        return abs(self.difference) <= self.bound

    def line(self):
        spread = "one seed: no spread, the floor alone" if math.isnan(self.pooled_sd) else \
            f"{SPREADS:g} x pooled sd {self.pooled_sd:.4f}"
        word = "PASS" if self.passed else "FAIL"
        relation = "<=" if self.passed else ">"
        return (f"verdict: {word}: |mean MindSpore - mean PyTorch| = {abs(self.difference):.4f} {relation} "
                f"max({FLOOR}, {spread}) = {self.bound:.4f}")


def summarise(runs):
    """{framework: FrameworkSummary} over the seeds of `runs` (outcome.comparison.TrainingRun)."""
    summaries = {}
    for framework in FRAMEWORKS:
        own = [run for run in runs if run.framework == framework]
        seconds = sum(point.seconds for run in own for point in run.points)
        rates = [point.images_per_s for run in own for point in run.points]
        summaries[framework] = FrameworkSummary(framework, tuple(run.final_miou for run in own),
                                                sum(run.images for run in own) / seconds, float(np.median(rates)),
                                                sum(run.wall_seconds for run in own),
                                                sum(run.cpu_seconds for run in own))
    return summaries


def verdict(summaries):
    """The difference of the mean finals against the bound (module docstring)."""
    ours, reference = summaries["mindspore"], summaries["pytorch"]
    pooled = math.sqrt((ours.sd ** 2 + reference.sd ** 2) / 2)
    bound = FLOOR if math.isnan(pooled) else max(FLOOR, SPREADS * pooled)
    return Verdict(ours.mean - reference.mean, pooled, bound)


def runs_table(runs):
    """One line per run: final val mIoU, best val mIoU, training images/s, wall and CPU time."""
    lines = [f"{'framework':<10} {'seed':>4} {'final mIoU':>10} {'best mIoU':>9} {'images/s':>9} {'wall s':>7} "
             f"{'CPU s':>7}"]
    for run in runs:
        best = max(point.val_miou for point in run.points if point.val_miou is not None)
        lines.append(f"{FRAMEWORK_NAMES[run.framework]:<10} {run.seed:>4} {run.final_miou:>10.4f} {best:>9.4f} "
                     f"{run.images_per_s:>9.1f} {run.wall_seconds:>7.0f} {run.cpu_seconds:>7.0f}")
    return "\n".join(lines)


def summary_table(summaries):
    """Per framework: final val mIoU mean, sd and range over seeds, training images/s (all epochs, and the
    median epoch), wall and CPU time; then the MindSpore/PyTorch speed ratios."""
    lines = [f"{'framework':<10} {'seeds':>5} {'final mIoU mean':>15} {'sd':>7} {'min..max':>15} {'images/s':>9} "
             f"{'median epoch':>12} {'wall s':>7} {'CPU s':>7}"]
    for framework, summary in summaries.items():
        sd = "-" if math.isnan(summary.sd) else f"{summary.sd:.4f}"
        span = f"{min(summary.finals):.4f}..{max(summary.finals):.4f}"
        lines.append(f"{FRAMEWORK_NAMES[framework]:<10} {len(summary.finals):>5} {summary.mean:>15.4f} {sd:>7} "
                     f"{span:>15} {summary.images_per_s:>9.1f} {summary.median_epoch_images_per_s:>12.1f} "
                     f"{summary.wall_seconds:>7.0f} {summary.cpu_seconds:>7.0f}")
    ours, reference = summaries["mindspore"], summaries["pytorch"]
    lines.append(f"MindSpore/PyTorch: training images/s {ours.images_per_s / reference.images_per_s:.2f}x "
                 f"(median epoch {ours.median_epoch_images_per_s / reference.median_epoch_images_per_s:.2f}x), "
                 f"wall time {ours.wall_seconds / reference.wall_seconds:.2f}x, "
                 f"CPU time {ours.cpu_seconds / reference.cpu_seconds:.2f}x")
    return "\n".join(lines)


def write_summary_json(summaries, result, path):
    """The table and the verdict as JSON, for other tools (bench/compare_training.py collects them)."""
    frameworks = {framework: {"finals": list(summary.finals), "mean": summary.mean,
                              "sd": None if math.isnan(summary.sd) else summary.sd,
                              "images_per_s": summary.images_per_s,
                              "median_epoch_images_per_s": summary.median_epoch_images_per_s,
                              "wall_seconds": summary.wall_seconds, "cpu_seconds": summary.cpu_seconds}
                  for framework, summary in summaries.items()}
    verdict_fields = {"difference": result.difference, "bound": result.bound, "passed": result.passed,
                      "pooled_sd": None if math.isnan(result.pooled_sd) else result.pooled_sd, "rule": result.line()}
    with atomic_output(path) as temporary:
        temporary.write_text(json.dumps({"frameworks": frameworks, "verdict": verdict_fields}, indent=1) + "\n")


def write_curves_csv(runs, path):
    """Every epoch of every run, one row each (val_miou empty where the run did not validate)."""
    with atomic_output(path) as temporary:
        with open(temporary, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(CSV_COLUMNS)
            for run in runs:
                for point in run.points:
                    writer.writerow([point.framework, point.seed, point.stage, point.epoch, f"{point.train_loss:.6g}",
                                     "" if point.val_miou is None else f"{point.val_miou:.6g}",
                                     f"{point.images_per_s:.4g}", f"{point.seconds:.4g}"])


def band(runs, stage, field):
    """(epochs, mean, low, high) of `field` over the runs' epochs of `stage` where every run has a value."""
    rows = {}
    for run in runs:
        for point in run.points:
            value = getattr(point, field)
            if point.stage == stage and value is not None:
                rows.setdefault(point.epoch, []).append(value)
    epochs = sorted(epoch for epoch, values in rows.items() if len(values) == len(runs))
    values = np.array([rows[epoch] for epoch in epochs]).reshape(len(epochs), len(runs))
    return epochs, values.mean(1), values.min(1), values.max(1)


def plot_curves(runs, path, title):
    """Val mIoU and train loss against epoch, a column per stage, a line (the mean) and a band (min to max
    over the seeds) per framework."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    stages = sorted({point.stage for run in runs for point in run.points})
    figure, axes = plt.subplots(2, len(stages), figsize=(5.5 * len(stages), 7), squeeze=False)
    for column, stage in enumerate(stages):
        for row, (field, label) in enumerate((("val_miou", "val mIoU"), ("train_loss", "train loss"))):
            axis = axes[row][column]
            for framework, colour in zip(FRAMEWORKS, ("tab:red", "tab:blue")):
                own = [run for run in runs if run.framework == framework]
                epochs, mean, low, high = band(own, stage, field)
                axis.plot(epochs, mean, color=colour, marker="o" if field == "val_miou" else None, markersize=3,
                          label=f"{FRAMEWORK_NAMES[framework]} (mean of {len(own)})")
                axis.fill_between(epochs, low, high, color=colour, alpha=0.2)
            axis.xaxis.set_major_locator(MaxNLocator(integer=True))
            axis.set_xlabel(f"stage {stage} epoch")
            axis.set_ylabel(label)
            axis.grid(alpha=0.3)
            axis.legend()
    figure.suptitle(title)
    figure.tight_layout()
    with atomic_output(path) as temporary:
        figure.savefig(temporary, format="png", dpi=100)
    plt.close(figure)
