"""Training-outcome parity: one training config trained in MindSpore (`erfnet train`'s code path,
train.run.train_from_config) and in the PyTorch reference trainer (torch_ref.trainer), once per seed,
every validation epoch of both scored by the same metric code on the same val arrays. The data is a Cityscapes
root or a folders dataset of any class count (data/layout.py); both frameworks train with the same class weights,
computed once from the config and the data.

Seeds are the config's seed, seed + 1, ...; the runs alternate between the frameworks seed by seed, so a
change in the machine's load falls on both. `start`: "own" starts each framework from its own
initialisation (what a user gets); "same" starts MindSpore from the reference trainer's initialisation of
each stage (outcome/reference_starts.py), running MindSpore's stages one at a time (`erfnet train --stages N`),
as a previous_encoder stage needs PyTorch's fresh decoder joined to MindSpore's trained encoder.

Folders: `<out>/mindspore/seed<k>/` is an `erfnet train` run folder (config.yaml, stage<N>/ with
checkpoints, best.ckpt, final.ckpt, metrics.jsonl); with start "same", `<out>/starts/seed<k>/` holds the weights
it started from; `<out>/pytorch/seed<k>/stage<N>/` (N: the config's stages counted from 1) holds the reference's
epoch_<EEE>.pth (the last checkpoints.keep_last), best.pth and final.pth, erfnet_pytorch-keyed files `erfnet eval`
reads.
"""
import json
import logging
import resource
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

import torch

from data.layout import find_samples, layout_of
from facts.atomic import atomic_output
from facts.errors import UserError
from facts.progress import progress
from outcome.reference_config import check_reference_can_train, reference_run
from outcome.reference_scoring import reference_val_miou
from outcome.reference_starts import PREVIOUS_ENCODER, join_encoder_and_decoder, write_reference_starts
from torch_ref.checkpoint import save_checkpoint, with_prefix
from torch_ref.trainer import split_pairs, train_reference
from train.config import config_file, read_config
from train.run import stage_loss_weights, train_from_config, with_data_classes
from train.validate import validates_after

log = logging.getLogger(__name__)

FRAMEWORKS = ("mindspore", "pytorch")
FRAMEWORK_NAMES = {"mindspore": "MindSpore", "pytorch": "PyTorch"}
STARTS = ("own", "same")
OUTPUTS = ("curves.csv", "curves.png", "summary.json")
RUN_RECORD = "run.json"  # in a run's folder once the run has ended: its TrainingRun, what --resume keeps
PLAN_RECORD = "comparison.json"  # in --out: what is compared, so --resume refuses a different comparison


@dataclass(frozen=True)
class EpochPoint:
    """One trained epoch of one run; val_miou None where the run did not validate."""
    framework: str
    seed: int
    stage: int
    epoch: int
    train_loss: float
    val_miou: Optional[float]
    images_per_s: float
    seconds: float


@dataclass(frozen=True)
class TrainingRun:
    """One framework's training under one seed: its epochs in order, its wall time and the CPU time of all its
    threads and data-loading processes (both start to end: graph compilation, data loading, validation and
    checkpoints included)."""
    framework: str
    seed: int
    points: tuple
    wall_seconds: float
    cpu_seconds: float

    @property
    def final_miou(self):
        """The val mIoU after the last epoch of the last stage."""
        return self.points[-1].val_miou

    @property
    def images(self):
        return sum(point.images_per_s * point.seconds for point in self.points)

    @property
    def images_per_s(self):
        """Training images over training seconds (data loading and the first step's compilation included,
        validation not)."""
        return self.images / sum(point.seconds for point in self.points)


@dataclass(frozen=True)
class Comparison:
    """What to compare: a config file with `overrides` ("dotted.path=value"), a dataset root of `layout`
    (data/layout.py), the output folder, the seeds, the loss's `class_weights` ({network: K + 1 floats}, what both
    frameworks train with) and the start mode; `resume` keeps the runs an interrupted comparison finished."""
    config_path: Path
    data_root: Path
    out_dir: Path
    seeds: tuple
    layout: str
    class_weights: dict
    start: str = "own"
    overrides: tuple = ()
    resume: bool = False

    def config(self, seed):
        """The config as run under `seed` (the overrides applied, the class count resolved against the data)."""
        return with_data_classes(read_config(self.config_path, self.seed_overrides(seed)), self.data_root)

    def reference_run(self, seed):
        """The PyTorch reference trainer's run of the config under `seed`."""
        return reference_run(self.config(seed), self.class_weights, self.layout)

    def seed_overrides(self, seed):
        return (*self.overrides, f"seed={seed}")

    def folder(self, framework, seed):
        return self.out_dir / framework / f"seed{seed}"

    def starts_folder(self, seed):
        """Where `--start same` keeps the weights MindSpore starts from under `seed`: beside the run folders, not in
        MindSpore's, which `erfnet train` keeps for its own files."""
        return self.out_dir / "starts" / f"seed{seed}"

    def plan(self):
        """What makes two comparisons the same one (the config's content, not its path)."""
        return {"config": config_file(self.config_path).read_text(), "seeds": list(self.seeds), "start": self.start,
                "overrides": list(self.overrides)}


class Clock:
    """Wall and CPU time from its making: this process's threads, and the worker processes it has waited for
    (torch's DataLoader workers end with each epoch)."""

    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), self.cpu_now()

    @staticmethod
    def cpu_now():
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + children.ru_utime + children.ru_stime

    def elapsed(self):
        """(wall seconds, CPU seconds) so far."""
        return time.perf_counter() - self.wall, self.cpu_now() - self.cpu


def plan_comparison(config_path, data_root, out_dir, seed_count, start="own", overrides=(), resume=False):
    """A checked Comparison of `seed_count` seeds from the config's own; every mistake a UserError before
    anything trains. With `resume`, an --out of an earlier comparison is continued if it compared the same."""
    if seed_count < 1:
        raise UserError(f"--seeds {seed_count}: must be at least 1")
    if start not in STARTS:
        raise UserError(f"--start {start!r}: choose one of {', '.join(STARTS)}")
    config = read_config(config_path, overrides)
    check_reference_can_train(config)
    data_root, out_dir = Path(data_root), Path(out_dir)
    if not data_root.is_dir():
        raise UserError(f"{data_root}: no such data folder")
    config = with_data_classes(config, data_root)  # a class count the data does not have: erfnet train's one line
    for split in ("train", "val"):
        find_samples(data_root, split)  # every PNG read to its end: a bad file is named before anything trains
    layout = layout_of(data_root)
    try:
        images = len(split_pairs(data_root, "train", layout))
    except FileNotFoundError as error:
        raise UserError(f"{data_root}: the PyTorch reference reads it as erfnet_pytorch does and cannot: {error}") \
            from None
    if images % config.batch_size:
        log.warning(f"{images} training images in batches of {config.batch_size}: MindSpore leaves out the last "
                    f"{images % config.batch_size} of each epoch (whole batches only), the reference trains them as "
                    f"a short batch, as erfnet_pytorch does")
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"{out_dir}: is a file; --out names a folder")
    busy = [name for name in (*FRAMEWORKS, *OUTPUTS) if (out_dir / name).exists()]
    if busy and not resume:
        raise UserError(f"{out_dir}: already holds {', '.join(busy)} of an earlier comparison; use another --out, "
                        f"or --resume to continue it")
    seeds = tuple(config.seed + k for k in range(seed_count))
    # Computed once, handed to both frameworks: the comparison measures the trainers, not two weight computations.
    class_weights = stage_loss_weights(config, data_root, config.stages)
    comparison = Comparison(Path(config_path), data_root, out_dir, seeds, layout, class_weights, start,
                            tuple(overrides), resume)
    if busy:
        check_same_plan(comparison)
    return comparison


def check_same_plan(comparison):
    """Refuses to resume into an --out that holds another comparison (another config, seeds, start or --set)."""
    path = comparison.out_dir / PLAN_RECORD
    if not path.is_file():
        raise UserError(f"{comparison.out_dir}: holds no {PLAN_RECORD}, so what it compared is unknown; use another "
                        f"--out")
    earlier = json.loads(path.read_text())
    different = [field for field, value in comparison.plan().items() if earlier.get(field) != value]
    if different:
        raise UserError(f"{comparison.out_dir}: holds a comparison with another {', '.join(different)}; --resume "
                        f"continues only the same comparison (use another --out)")


def save_run(run, folder):
    with atomic_output(folder / RUN_RECORD) as temporary:
        temporary.write_text(json.dumps(asdict(run), indent=1) + "\n")


def load_run(path):
    record = json.loads(path.read_text())
    points = tuple(EpochPoint(**point) for point in record.pop("points"))
    return TrainingRun(points=points, **record)


def read_metrics(run_dir, config):
    """The metrics.jsonl lines of every stage of an `erfnet train` run folder, in stage order."""
    lines = []
    for stage in config.stages:
        path = run_dir / stage.name / "metrics.jsonl"
        lines += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return lines


def init_override(stage, path):
    """The --set that starts `stage` from all of the weight file `path`."""
    return f"stages.{stage.number}.init={{file: {json.dumps(str(path))}, part: all}}"


def train_mindspore_same_start(comparison, seed, folder, quiet):
    """MindSpore from the reference trainer's starts: stage by stage, each scratch stage from PyTorch's
    initialisation, each previous_encoder stage from its own previous stage's encoder under PyTorch's fresh
    decoder; a `previous` stage continues as in any run."""
    config, starts_folder = comparison.config(seed), comparison.starts_folder(seed)
    starts = write_reference_starts(config, comparison.reference_run(seed), starts_folder)
    inits = []
    for index, stage in enumerate(config.stages):
        if stage.init == PREVIOUS_ENCODER:
            previous = folder / config.stages[index - 1].name / "final.ckpt"
            joined = join_encoder_and_decoder(previous, starts[stage.number],
                                              starts_folder / f"{stage.name}_start.ckpt")
            inits.append(init_override(stage, joined))
        elif stage.number in starts:
            inits.append(init_override(stage, starts[stage.number]))
        train_from_config(comparison.config_path, comparison.data_root, folder,
                          overrides=(*comparison.seed_overrides(seed), *inits), stages=str(stage.number), quiet=quiet,
                          loss_weights=comparison.class_weights)


def run_mindspore(comparison, seed, quiet=False):
    """Trains the config in MindSpore under `seed`; returns its TrainingRun."""
    folder = comparison.folder("mindspore", seed)
    clock = Clock()
    if comparison.start == "same":
        train_mindspore_same_start(comparison, seed, folder, quiet)
    else:
        train_from_config(comparison.config_path, comparison.data_root, folder,
                          overrides=comparison.seed_overrides(seed), quiet=quiet, loss_weights=comparison.class_weights)
    wall, cpu = clock.elapsed()
    points = tuple(EpochPoint("mindspore", seed, line["stage"], line["epoch"], line["loss"], line["val_miou"],
                              line["images_per_s"], line["seconds"])
                   for line in read_metrics(folder, comparison.config(seed)))
    return TrainingRun("mindspore", seed, points, wall, cpu)


class ReferenceEpochs:
    """The reference trainer's on_epoch: scores the model where MindSpore validates, keeps the last
    checkpoints.keep_last epoch files and the best one of each stage, records the epoch, shows progress."""

    def __init__(self, config, seed, data_root, folder, bar):
        self.config, self.seed, self.data_root, self.folder, self.bar = config, seed, data_root, folder, bar
        self.points, self.best = [], {}

    def __call__(self, position, epoch, model, record):
        stage = self.config.stages[position - 1]
        val_miou = None
        if validates_after(self.config, stage, epoch):
            validation = self.config.validation
            val_miou = reference_val_miou(model, stage.network, self.data_root, validation.height,
                                          validation.batch_size, self.config.workers)
            if val_miou > self.best.get(position, float("-inf")):
                self.best[position] = val_miou
                save_checkpoint(model, self.folder / f"stage{position}" / "best.pth")
        self.prune(position)
        self.points.append(EpochPoint("pytorch", self.seed, stage.number, epoch, record.loss, val_miou,
                                      record.images_per_s, record.seconds))
        self.bar.set_postfix(stage=stage.number, loss=f"{record.loss:.4f}", images_s=f"{record.images_per_s:.1f}",
                             val_miou="-" if val_miou is None else f"{val_miou:.4f}", refresh=False)
        self.bar.update()

    def prune(self, position):
        epochs = sorted((self.folder / f"stage{position}").glob("epoch_*.pth"))
        for path in epochs[:-self.config.checkpoints.keep_last]:
            path.unlink()


def run_pytorch(comparison, seed, quiet=False):
    """Trains the config in the PyTorch reference trainer under `seed`; returns its TrainingRun. (With
    start "same" too the reference starts from its own initialisation: MindSpore is the one moved.)"""
    config = comparison.config(seed)
    folder = comparison.folder("pytorch", seed)
    epochs = sum(stage.last_epoch - stage.first_epoch + 1 for stage in config.stages)
    clock = Clock()
    with progress(epochs, f"pytorch seed {seed}", unit="epoch", disable=quiet) as bar:
        on_epoch = ReferenceEpochs(config, seed, comparison.data_root, folder, bar)
        finals = train_reference(comparison.reference_run(seed), comparison.data_root, folder, on_epoch=on_epoch)
    for position, state in finals.items():
        with atomic_output(folder / f"stage{position}" / "final.pth") as temporary:
            torch.save(with_prefix(state), temporary)
    return TrainingRun("pytorch", seed, tuple(on_epoch.points), *clock.elapsed())


RUNNERS = {"mindspore": run_mindspore, "pytorch": run_pytorch}


def compare_training(comparison, quiet=False):
    """Trains every seed in both frameworks, alternating; returns the TrainingRuns in that order. Each ended run
    leaves its record; with `resume`, a run that has one is kept and one that has not starts again."""
    with atomic_output(comparison.out_dir / PLAN_RECORD) as temporary:
        temporary.write_text(json.dumps(comparison.plan(), indent=1) + "\n")
    runs = []
    total = len(comparison.seeds) * len(FRAMEWORKS)
    for seed in comparison.seeds:
        for framework in FRAMEWORKS:
            folder = comparison.folder(framework, seed)
            if comparison.resume and (folder / RUN_RECORD).is_file():
                runs.append(load_run(folder / RUN_RECORD))
                log.info(f"compare-training run {len(runs)}/{total}: {FRAMEWORK_NAMES[framework]}, seed {seed}: "
                         f"kept from {folder / RUN_RECORD}")
                continue
            if folder.exists():
                shutil.rmtree(folder)  # an interrupted run: it starts again
            log.info(f"compare-training run {len(runs) + 1}/{total}: {FRAMEWORK_NAMES[framework]}, seed {seed}, "
                     f"start {comparison.start} -> {folder}")
            run = RUNNERS[framework](comparison, seed, quiet)
            save_run(run, folder)
            log.info(f"{FRAMEWORK_NAMES[framework]} seed {seed}: final val mIoU {run.final_miou:.4f}, "
                     f"{run.images_per_s:.1f} training images/s, {run.wall_seconds:.0f} s "
                     f"({run.cpu_seconds:.0f} s CPU)")
            runs.append(run)
    return runs
