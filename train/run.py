"""Running a staged training configuration: `train_from_config` runs the selected stages in order, each from
the previous stage's final weights (in memory, from RUN/stage<N>/final.ckpt, or from `init`)."""
import dataclasses
from pathlib import Path

from convert import read_weights
from convert.names import DECODER
from convert.realign import realigned
from erfnet.atomic import atomic_output
from erfnet.errors import UserError
from ms_erfnet.execution import use_graph_mode
from train.config import FROM_WEIGHTS, read_config, resolved_yaml
from train.devices import Devices
from train.stage import StageResult, StageRunner

ENCODER_PREFIX = "encoder."


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


def part_arrays(arrays, init):
    """The arrays a stage starts from: everything, or the encoder (with its head) for previous_encoder/encoder."""
    if init in ("previous_encoder", "encoder"):
        return {name: value for name, value in arrays.items() if name.startswith(ENCODER_PREFIX)}
    return dict(arrays)


def file_arrays(path, num_classes):
    weights = read_weights(path)
    if weights.num_classes not in (0, num_classes):
        raise UserError(f"{path}: holds weights for {weights.num_classes} classes; the config trains {num_classes}")
    return weights.arrays


def start_file(config, first, run_dir, init_file):
    """The weight file the first selected stage starts from, if any exists yet."""
    index = config.stages.index(first)
    if init_file is not None:
        candidate = init_file
    elif first.init == "file":
        candidate = first.init_file
    elif first.init == "scratch" or index == 0:
        return None
    else:
        candidate = Path(run_dir) / config.stages[index - 1].name / "final.ckpt"
    return candidate if Path(candidate).is_file() else None


def with_alignment(config, weights_file, log):
    """The config with the upsampler alignment this run computes with. `from_weights` takes the starting
    weights' (torch from scratch); an explicit alignment that differs from a full network's starting weights
    is used as asked, and the measured output change is logged, never silently."""
    weights = read_weights(weights_file) if weights_file is not None else None
    if config.upsample_align == FROM_WEIGHTS:
        return dataclasses.replace(config, upsample_align=weights.upsample_align if weights else "torch")
    if weights is not None and DECODER in weights.parts and weights.upsample_align != config.upsample_align:
        log("note: " + realigned(weights, config.upsample_align, True, weights_file, "this run").notes[-1])
    return config


def stage_dir_has_results(run_dir, stage):
    folder = Path(run_dir) / stage.name
    return folder.is_dir() and any(folder.iterdir())


def check_out_folder(run_dir, chosen, resume):
    """Without --resume, refuse to write over stages already in the run folder."""
    if resume:
        return
    busy = [stage.name for stage in chosen if stage_dir_has_results(run_dir, stage)]
    if busy:
        raise UserError(f"{run_dir}: already holds {', '.join(busy)}; pass --resume to continue, or use another --out")


def initial_arrays(config, stage, index, run_dir, init_file, previous_result):
    """The weights `stage` starts from, or None for fresh weights."""
    if init_file is not None:
        return part_arrays(file_arrays(init_file, config.num_classes), stage.init)
    if stage.init == "file":
        return part_arrays(file_arrays(stage.init_file, config.num_classes), stage.init_part)
    if stage.init == "scratch":
        return None
    if previous_result is not None:
        return part_arrays(previous_result.final_arrays, stage.init)
    if index == 0:
        raise UserError(f"stage {stage.number} starts from a previous stage ({stage.init}) but is the config's "
                        f"first: give --init FILE")
    previous = config.stages[index - 1]
    final = Path(run_dir) / previous.name / "final.ckpt"
    if not final.is_file():
        raise UserError(f"stage {stage.number} starts from stage {previous.number}'s final weights, but {final} "
                        f"does not exist: run stage {previous.number} first, or give --init FILE")
    return part_arrays(file_arrays(final, config.num_classes), stage.init)


def train_from_config(config_path, data_root, out_dir, overrides=(), stages=None, init=None, resume=False,
                      devices=Devices(), quiet=False):
    """Train the stages of the config file `config_path` on the Cityscapes root `data_root`, writing to `out_dir`.

    overrides: "dotted.path=value" strings (`stages.2.epochs=[66,140]`); stages: "3-4", "2" or None for all;
    init: a weight file the first selected stage starts from instead of its config's source; resume: continue
    each stage from its last epoch checkpoint (completed stages are skipped). Returns a list of
    `train.stage.StageResult` (best and last val mIoU, final weights as numpy arrays, weights digest).
    The device is whatever MindSpore is set to (`train.devices.select_device` picks one); graph mode is set.
    """
    use_graph_mode()
    config = read_config(config_path, overrides)
    selected = parse_stage_selection(stages, config)
    data_root, run_dir = Path(data_root), Path(out_dir)
    if not data_root.is_dir():
        raise UserError(f"{data_root}: no such data folder")
    if init is not None and not Path(init).is_file():
        raise UserError(f"--init {init}: no such file")
    chosen = [stage for stage in config.stages if stage.number in selected]
    config = with_alignment(config, start_file(config, chosen[0], run_dir, init),
                            print if devices.is_writer else (lambda text: None))
    if devices.is_writer:
        check_out_folder(run_dir, chosen, resume)
    runners = [StageRunner(config, stage, data_root, run_dir, devices, quiet) for stage in chosen]
    if devices.is_writer:
        with atomic_output(run_dir / "config.yaml") as temporary:
            Path(temporary).write_text(resolved_yaml(config))
    results, previous = [], None
    for position, runner in enumerate(runners):
        stage = runner.stage
        index = config.stages.index(stage)
        final = run_dir / stage.name / "final.ckpt"
        if resume and final.is_file():
            runner.log(f"{stage.name}: complete ({final}), skipped")
            previous = completed_result(stage, final, config.num_classes)
            results.append(previous)
            continue
        start = initial_arrays(config, stage, index, run_dir, init if position == 0 else None, previous)
        previous = runner.run(start, resume)
        results.append(previous)
    return results


def completed_result(stage, final, num_classes):
    arrays = file_arrays(final, num_classes)
    return StageResult(stage.number, arrays, float("nan"), float("nan"), "")
