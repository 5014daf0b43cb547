"""Running a staged training configuration: `train_from_config` runs the selected stages in order, each from
the previous stage's final weights (in memory, from RUN/stage<N>/final.ckpt, or from `init`)."""
import dataclasses
import logging
import time
from pathlib import Path

from convert import read_weights
from convert.names import DECODER, ENCODER, ENCODER_HEAD, PARTS
from convert.realign import realigned
from data.class_weights import checked_setting, loss_weights
from data.layout import find_samples, label_space
from facts.errors import UserError
from ms_erfnet.devices import Devices
from ms_erfnet.execution import free_finished_graphs, use_graph_mode
from facts.spec import NETWORKS
from train.config import FROM_DATA, FROM_WEIGHTS, InitFile, read_config
from train.run_folder import check_run_folder, open_run
from train.stage import StageResult, StageRunner

log = logging.getLogger(__name__)

ENCODER_PARTS = (ENCODER, ENCODER_HEAD)
CLASS_TENSORS = ("encoder.output_conv.", "decoder.output_conv.")  # their shapes follow the class count


def parse_stage_selection(text, config):
    """"3-4", "2" or None (all) -> the selected stage numbers, checked against the config."""
    numbers = [stage.number for stage in config.stages]
    if text is None:
        return numbers
    first, dash, last = str(text).partition("-")
    try:
        low, high = int(first), int(last) if dash else int(first)
    except ValueError:
        raise UserError(f"--stages {text!r}: expected N or N-M") from None
    selected = [n for n in numbers if low <= n <= high]
    if low > high or low not in numbers or high not in numbers:
        raise UserError(f"--stages {text!r}: the config's stages are {', '.join(map(str, numbers))}")
    return selected


def start_parts(stage):
    """The parts of its starting weights a stage takes: the encoder with its head (previous_encoder, or a file
    with part: encoder), or everything."""
    if stage.init == "previous_encoder" or (isinstance(stage.init, InitFile) and stage.init.part == "encoder"):
        return ENCODER_PARTS
    return PARTS


def file_weights(path, num_classes, refit=False):
    """The weights of `path` for a network of `num_classes`. Weights of another class count are a UserError naming
    both counts, or with `refit` (a start from a user's file: fine-tuning) are taken without their class-dependent
    tensors (CLASS_TENSORS), which start fresh, named in one logged line."""
    weights = read_weights(path)
    if weights.num_classes in (0, num_classes):
        return weights
    if not refit:
        raise UserError(f"{path}: holds weights for {weights.num_classes} classes; the config trains {num_classes}")
    kept = {name: array for name, array in weights.arrays.items() if not name.startswith(CLASS_TENSORS)}
    fresh = [name for name in weights.arrays if name not in kept]
    log.info(f"{path}: {weights.num_classes} classes, the network {num_classes}: every tensor loaded but "
             f"{', '.join(fresh)}, which start fresh")
    return dataclasses.replace(weights, arrays=kept, num_classes=0)


def previous_final(config, stage, run_dir):
    return Path(run_dir) / config.stages[config.stages.index(stage) - 1].name / "final.ckpt"


def start_file(config, first, run_dir, init_file):
    """The weight file the first selected stage starts from, if any exists yet."""
    if init_file is not None:
        return init_file
    if isinstance(first.init, InitFile):
        return first.init.file
    if first.init == "scratch" or config.stages.index(first) == 0:
        return None
    candidate = previous_final(config, first, run_dir)
    return candidate if candidate.is_file() else None


def check_init_files(chosen, init_file):
    """Every weight file the chosen stages start from exists (the first stage's own is replaced by --init)."""
    if init_file is not None and not Path(init_file).is_file():
        raise UserError(f"--init {init_file}: no such file")
    for position, stage in enumerate(chosen):
        if isinstance(stage.init, InitFile) and not (position == 0 and init_file is not None) \
                and not Path(stage.init.file).is_file():
            raise UserError(f"config field stages.{stage.number}.init.file: {stage.init.file}: no such file")


def check_data(data_root, skip_bad=False):
    """Read every PNG of the train and val splits to its end once (chunk checksums), so that a missing,
    truncated or corrupted file stops the run before it trains, not hours into an epoch (with `skip_bad` it is
    named and left out, and labels are decoded too). Stages and validations after it only count the files."""
    start = time.perf_counter()
    counts = {split: len(find_samples(data_root, split, skip_bad=skip_bad, verify=True, decode_labels=skip_bad))
              for split in ("train", "val")}
    log.info(f"{data_root}: {counts['train']} train and {counts['val']} val image/label pairs, every file checked "
             f"({time.perf_counter() - start:.1f} s)")


def with_data_classes(config, data_root):
    """The config with `model.num_classes: data` resolved to the data's class count, checked against the data
    (data/layout.py: K classes, or K + 1 with a void channel), and its class weights' setting checked against the
    data (data/class_weights.py); UserError naming both counts otherwise."""
    space = label_space(data_root)
    model = config.model
    if model.num_classes == FROM_DATA:
        model = dataclasses.replace(model, num_classes=space.void)
    space.check_network(model.num_classes, "the config's model.num_classes")
    checked_setting(data_root, config.loss.class_weights, "config field loss.class_weights")
    return dataclasses.replace(config, model=model)


def stage_loss_weights(config, data_root, chosen):
    """{network: the loss's class weights} for the networks the chosen stages train and for validation's loss
    ("full"), from data/class_weights.py, each logged once."""
    networks = [network for network in NETWORKS if network == "full" or any(s.network == network for s in chosen)]
    weights = {network: loss_weights(data_root, network, config.loss.class_weights, config.loss.enet_c)
               for network in networks}
    setting = config.loss.class_weights
    source = "given in the config" if not isinstance(setting, str) else setting
    for network, values in weights.items():
        log.info(f"class weights ({network}, {source}): {' '.join(f'{value:.3f}' for value in values[:-1])}")
    return weights


def with_alignment(config, weights_file):
    """The config with the upsampler alignment this run computes with. `from_weights` takes the starting
    weights' (torch from scratch); an explicit alignment that differs from a full network's starting weights
    is used as asked, and the measured output change is logged, never silently."""
    weights = read_weights(weights_file) if weights_file is not None else None
    model = config.model
    if model.upsample_align == FROM_WEIGHTS:
        align = weights.upsample_align if weights else "torch"
        return dataclasses.replace(config, model=dataclasses.replace(model, upsample_align=align))
    if weights is not None and DECODER in weights.parts and weights.upsample_align != model.upsample_align:
        log.info("note: " + realigned(weights, model.upsample_align, True, weights_file, "this run").notes[-1])
    return config


def initial_weights(config, stage, run_dir, init_file, previous_result):
    """The weights `stage` starts from (convert.weights.Weights, only the parts it takes), or None for fresh
    weights."""
    num_classes = config.model.num_classes
    if init_file is not None:
        weights = file_weights(init_file, num_classes, refit=True)
    elif isinstance(stage.init, InitFile):
        weights = file_weights(stage.init.file, num_classes, refit=True)
    elif stage.init == "scratch":
        return None
    elif previous_result is not None:
        weights = previous_result.final_weights
    elif config.stages.index(stage) == 0:
        raise UserError(f"stage {stage.number} starts from a previous stage ({stage.init}) but is the config's "
                        f"first: give --init FILE")
    else:
        final = previous_final(config, stage, run_dir)
        if not final.is_file():
            previous = config.stages[config.stages.index(stage) - 1]
            raise UserError(f"stage {stage.number} starts from stage {previous.number}'s final weights, but {final} "
                            f"does not exist: run stage {previous.number} first, or give --init FILE")
        weights = file_weights(final, num_classes)
    return weights.only(start_parts(stage))


def planned_run(config_path, data_root, out_dir, overrides=(), stages=None, init=None):
    """What a run will do, every input checked before anything is written: (the config with its upsampler
    alignment resolved, the chosen stages). The launcher calls it before it starts any worker."""
    config = read_config(config_path, overrides)
    selected = parse_stage_selection(stages, config)
    if not Path(data_root).is_dir():
        raise UserError(f"{data_root}: no such data folder")
    chosen = [stage for stage in config.stages if stage.number in selected]
    check_init_files(chosen, init)
    config = with_data_classes(config, data_root)
    return with_alignment(config, start_file(config, chosen[0], Path(out_dir), init)), chosen


def completed_stage(config, stage, run_dir):
    """The StageResult of a stage whose final.ckpt reads back, or None (an unreadable one is named: the stage is
    then resumed from its epoch checkpoints, which rewrites it)."""
    final = Path(run_dir) / stage.name / "final.ckpt"
    if not final.is_file():
        return None
    try:
        weights = file_weights(final, config.model.num_classes)
    except UserError as error:
        log.warning(f"{stage.name}: {error}; resuming the stage from its epoch checkpoints instead")
        return None
    log.info(f"{stage.name}: complete ({final}), skipped")
    return StageResult(stage.number, weights, float("nan"), float("nan"), "")


def train_from_config(config_path, data_root, out_dir, overrides=(), stages=None, init=None, resume=False,
                      devices=Devices(), quiet=False, skip_bad=False, loss_weights=None):
    """Train the stages of the config file `config_path` on the dataset at `data_root` (either layout,
    data/layout.py), writing to `out_dir`.

    overrides: "dotted.path=value" strings (`stages.2.epochs=[66,140]`); stages: "3-4", "2" or None for all;
    init: a weight file the first selected stage starts from instead of its config's source; resume: continue
    each stage from its newest readable epoch checkpoint (completed stages are skipped); quiet: no progress bars;
    skip_bad: leave out unusable samples (named on stderr) instead of stopping; loss_weights: {network: class
    weights} already computed from this config and data (stage_loss_weights), None to compute them here. `out_dir`
    must be new, empty or a run of the same config (train/run_folder.py). Returns a list of
    `train.stage.StageResult` (best and last val mIoU, final weights, weights digest). The device is whatever
    MindSpore is set to (`ms_erfnet.devices.select_device` picks one); graph mode is set.
    """
    use_graph_mode()
    config, chosen = planned_run(config_path, data_root, out_dir, overrides, stages, init)
    data_root, run_dir = Path(data_root), Path(out_dir)
    if devices.is_writer:
        check_run_folder(run_dir, config, chosen, resume)
        check_data(data_root, skip_bad)
    weights = loss_weights or stage_loss_weights(config, data_root, chosen)
    runners = [StageRunner(config, stage, data_root, run_dir, devices, quiet, skip_bad, weights) for stage in chosen]
    if devices.is_writer:
        open_run(run_dir, config, chosen, resume)
    results, previous = [], None
    for position, runner in enumerate(runners):
        done = completed_stage(config, runner.stage, run_dir) if resume else None
        if done is not None:
            previous = done
        else:
            start = initial_weights(config, runner.stage, run_dir, init if position == 0 else None, previous)
            previous = runner.run(start, resume)
            free_finished_graphs()
        results.append(previous)
    return results
