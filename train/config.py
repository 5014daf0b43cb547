"""Training configuration: a YAML file declared once by the dataclasses below (train/schema.py turns them into
parsing, defaults, validation and the resolved YAML), checked when loaded, every error naming the field.

A config is a path to a YAML file or the name of one shipped with the package (train/configs/<name>.yaml,
package data read through importlib.resources, so `--config learn` works from any installation).

The YAML mirrors the dataclasses: top-level fields of TrainConfig, `poly`, `model`, `loss`, `validation`,
`checkpoints` and `amp` mappings, and `stages: {<number>: stage}` run in increasing order. Checks that join fields
(a stage's epochs inside the poly curve, stages of one network not overlapping, `previous` after a stage of the
same network) follow the field checks. `overrides` are "dotted.path=value" strings, the value parsed as YAML
(`stages.2.epochs=[66,140]`).
"""
import copy
import dataclasses
from importlib import resources
from pathlib import Path
from typing import Optional, Union

import yaml

from data.class_weights import ENET_C, SETTINGS
from data.recipes import TRAINING_RECIPES
from data.workers import WORKER_KINDS
from facts.errors import UserError, first_line
from facts.spec import DROPOUT_MODES, NETWORKS, STRIDE, UPSAMPLE_ALIGNMENTS, layer_table
from train.schema import dump, fail, integer, key, mapping, number, parse, rule, text

FROM_WEIGHTS = "from_weights"
FROM_DATA = "data"
INITS = ("scratch", "previous", "previous_encoder")
INIT_PARTS = ("all", "encoder")
AMP_LEVELS = ("O0", "O1", "O2")
DYNAMIC = "dynamic"
SHIPPED = resources.files("train") / "configs"
YAML_ENDING = ".yaml"


def _epochs(value, field):
    """[first, last], 1 <= first <= last (the poly curve's end is checked with the whole config)."""
    if not isinstance(value, list) or len(value) != 2:
        fail(field, f"must be [first, last], not {value!r}")
    first, last = (integer(item, field) for item in value)
    if first < 1:
        fail(field, f"the first epoch is 1 or later, not {first}")
    if last < first:
        fail(field, f"[{first}, {last}]: the last epoch comes before the first")
    return first, last


def _dropout(value, field):
    """Rates in [0, 1) by the layer table's dropout groups; groups not given keep erfnet_pytorch's rate."""
    rates = dict(layer_table().dropout_defaults)
    for group, rate in mapping(value, field, tuple(rates)).items():
        rate = number(rate, f"{field}.{group}")
        if not 0 <= rate < 1:
            fail(f"{field}.{group}", f"must be in [0, 1), not {rate}")
        rates[group] = rate
    return rates


def _crop_ratio(value, field):
    """A ratio r >= 1, or [low, high] to draw it from."""
    if value is None:
        return None
    if isinstance(value, list):
        if len(value) != 2:
            fail(field, f"must be a number or [low, high], not {value!r}")
        low, high = (number(item, field) for item in value)
        if low < 1 or high < low:
            fail(field, f"[{low}, {high}]: needs 1 <= low <= high")
        return low, high
    ratio = number(value, field)
    if ratio < 1:
        fail(field, f"must be >= 1, not {ratio}")
    return ratio


def _list_or_same(value):
    return list(value) if isinstance(value, tuple) else value


@dataclasses.dataclass(frozen=True, kw_only=True)
class InitFile:
    """A stage's start from a weight file (relative to the working folder): all of it, or its encoder."""
    file: str = rule(parse=lambda value, field: text(str(value), field))
    part: str = rule("all", choices=INIT_PARTS)


def _init(value, field):
    if isinstance(value, dict):
        return parse(InitFile, value, field)
    if value not in INITS:
        fail(field, f"must be one of {', '.join(INITS)} or {{file: PATH, part: all|encoder}}, not {value!r}")
    return value


@dataclasses.dataclass(frozen=True, kw_only=True)
class Augmentation:
    recipe: str = rule("zoo", choices=TRAINING_RECIPES)
    crop_ratio: Optional[Union[float, tuple]] = rule(None, parse=_crop_ratio, dump=_list_or_same)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Stage:
    """One stage: which network it trains, its slice of the poly curve, dropout, augmentation and start."""
    number: int = key()
    network: str = rule(choices=NETWORKS)
    epochs: tuple = rule(parse=_epochs, dump=list)
    dropout: dict = rule(dict(layer_table().dropout_defaults), parse=_dropout)
    augmentation: Augmentation = rule(Augmentation())
    init: Union[str, InitFile] = rule(parse=_init, dump=lambda value: dump(value) if isinstance(value, InitFile)
                                      else value)

    @property
    def name(self):
        return f"stage{self.number}"

    @property
    def first_epoch(self):
        return self.epochs[0]

    @property
    def last_epoch(self):
        return self.epochs[1]


def _stages(value, field):
    if not isinstance(value, dict) or not value:
        fail(field, "must be a non-empty mapping of stage number to stage")
    for number_ in value:
        if isinstance(number_, bool) or not isinstance(number_, int) or number_ < 1:
            fail(f"{field}.{number_}", "stage numbers are integers >= 1")
    return tuple(parse(Stage, value[n], f"{field}.{n}", number=n) for n in sorted(value))


@dataclasses.dataclass(frozen=True, kw_only=True)
class Poly:
    """The nominal poly curve lr(e) = lr0 (1 - (e-1)/epochs)^power that the stages slice."""
    epochs: int = rule(150, low=1)
    power: float = rule(0.9, low=0.0)


def _num_classes(value, field):
    """An integer >= 2, or "data": the dataset's class count (train.run resolves it, data/layout.py)."""
    if value == FROM_DATA:
        return value
    if integer(value, field) < 2:
        fail(field, f"must be >= 2 or {FROM_DATA!r}, not {value}")
    return value


def _class_weights(value, field):
    """A setting of data.class_weights.SETTINGS, or one positive number per class (counted against the data)."""
    if isinstance(value, list):
        weights = [number(item, f"{field}[{index}]") for index, item in enumerate(value)]
        if len(weights) < 2 or min(weights) < 0 or max(weights) <= 0:
            fail(field, "give one weight >= 0 per class (at least two, not all 0)")
        return tuple(weights)
    if value not in SETTINGS:
        fail(field, f"must be one of {', '.join(SETTINGS)} or a list of one number per class, not {value!r}")
    return value


@dataclasses.dataclass(frozen=True, kw_only=True)
class Model:
    """upsample_align from_weights: the alignment the starting weights record (torch from scratch); num_classes
    "data": the training data's class count."""
    num_classes: Union[int, str] = rule(20, parse=_num_classes)
    dropout_mode: str = rule("channel", choices=DROPOUT_MODES)
    upsample_align: str = rule(FROM_WEIGHTS, choices=UPSAMPLE_ALIGNMENTS + (FROM_WEIGHTS,))


@dataclasses.dataclass(frozen=True, kw_only=True)
class Loss:
    """class_weights (data/class_weights.py): auto (erfnet_pytorch's on Cityscapes, from the labels on one's own
    data), published, labels, uniform, or one number per class; enet_c: the c of w = 1 / ln(c + p)."""
    class_weights: Union[str, tuple] = rule("auto", parse=_class_weights, dump=_list_or_same)
    enet_c: float = rule(ENET_C, above=1.0)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Validation:
    """Every `every` epochs and after a stage's last; height None: the training height."""
    every: int = rule(1, low=1)
    height: Optional[int] = rule(None, low=STRIDE, multiple_of=STRIDE)
    batch_size: int = rule(1, low=1)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Checkpoints:
    keep_last: int = rule(2, low=1)


def _loss_scale(value, field):
    if value == DYNAMIC:
        return value
    scale = number(value, field)
    if scale <= 0:
        fail(field, f"must be > 0 or {DYNAMIC!r}, not {scale}")
    return scale


@dataclasses.dataclass(frozen=True, kw_only=True)
class Amp:
    """Mixed precision (Ascend): O1/O2 keep BatchNorm in float32; loss_scale a number or "dynamic"."""
    level: str = rule("O0", choices=AMP_LEVELS)
    loss_scale: Union[float, str] = rule(1.0, parse=_loss_scale)


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """seed: data order, augmentation, dropout and fresh weights; batch_size: per device; height: training
    height (the width follows the images' aspect ratio); workers: data-loading workers per device; worker_kind:
    threads, processes, or auto (the host's cores decide, data/workers.py)."""
    seed: int = rule(low=0)
    lr0: float = rule(above=0.0)
    weight_decay: float = rule(1e-4, low=0.0)
    poly: Poly = rule(Poly())
    batch_size: int = rule(low=1)
    height: int = rule(low=STRIDE, multiple_of=STRIDE)
    workers: int = rule(2, low=1)
    worker_kind: str = rule("auto", choices=WORKER_KINDS)
    model: Model = rule(Model())
    loss: Loss = rule(Loss())
    validation: Validation = rule(Validation())
    checkpoints: Checkpoints = rule(Checkpoints())
    amp: Amp = rule(Amp())
    stages: tuple = rule(parse=_stages, dump=lambda stages: {stage.number: dump(stage) for stage in stages})

    def stage(self, number):
        return next(stage for stage in self.stages if stage.number == number)


def _check_stages(config):
    for index, stage in enumerate(config.stages):
        field = f"stages.{stage.number}"
        if stage.last_epoch > config.poly.epochs:
            fail(f"{field}.epochs", f"the last epoch {stage.last_epoch} is beyond the poly curve's "
                 f"{config.poly.epochs} epochs (poly.epochs)")
        if stage.augmentation.crop_ratio is not None and stage.augmentation.recipe != "zoo":
            fail(f"{field}.augmentation.crop_ratio", f"is a parameter of the zoo recipe, not of "
                 f"{stage.augmentation.recipe}")
        if index > 0 and stage.init == "previous" and config.stages[index - 1].network != stage.network:
            before = config.stages[index - 1]
            fail(f"{field}.init", f"previous: stage {before.number} trains the {before.network} network, stage "
                 f"{stage.number} the {stage.network}; use previous_encoder or a file")
        for other in config.stages[:index]:
            if other.network == stage.network and not (stage.last_epoch < other.first_epoch
                                                        or other.last_epoch < stage.first_epoch):
                fail(f"{field}.epochs", f"[{stage.first_epoch}, {stage.last_epoch}] overlaps stage {other.number}'s "
                     f"[{other.first_epoch}, {other.last_epoch}] of the same network")


def parse_config(raw):
    """A validated TrainConfig from the parsed YAML mapping `raw` (validation.height filled in)."""
    config = parse(TrainConfig, raw)
    _check_stages(config)
    if config.validation.height is None:
        config = dataclasses.replace(config, validation=dataclasses.replace(config.validation, height=config.height))
    return config


def _parse_key(part):
    try:
        return int(part)
    except ValueError:
        return part


def apply_overrides(raw, overrides):
    """A copy of `raw` with each "dotted.path=value" applied (value parsed as YAML)."""
    raw = copy.deepcopy(raw)
    for override in overrides:
        path, equals, value_text = override.partition("=")
        if not equals or not path:
            raise UserError(f"--set {override!r}: expected dotted.path=value")
        try:
            value = yaml.safe_load(value_text)
        except yaml.YAMLError as error:
            raise UserError(f"--set {override!r}: value is not YAML ({_one_line(error)})") from None
        keys = [_parse_key(part) for part in path.split(".")]
        node = raw
        for depth, part in enumerate(keys[:-1]):
            if not isinstance(node.get(part) if isinstance(node, dict) else None, dict):
                fail(".".join(map(str, keys[:depth + 1])), f"--set {override!r}: no such mapping in the config")
            node = node[part]
        node[keys[-1]] = value
    return raw


def _one_line(error):
    """A YAML error as one line: what is wrong and where (line and column, 1-based)."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or first_line(error)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark else problem


def shipped_configs():
    """The names of the configs shipped with the package, sorted."""
    return sorted(entry.name[:-len(YAML_ENDING)] for entry in SHIPPED.iterdir() if entry.name.endswith(YAML_ENDING))


def config_file(config):
    """The file `config` names: an existing path, else a shipped config by its bare name (`learn` or
    `learn.yaml`). Returns a Path or an importlib.resources Traversable; a UserError lists the shipped names."""
    path, shipped = Path(config), shipped_configs()
    if path.is_file():
        return path
    name = path.name[:-len(YAML_ENDING)] if path.name.endswith(YAML_ENDING) else path.name
    if name in shipped and str(config) == path.name:
        return SHIPPED / f"{name}{YAML_ENDING}"
    hint = f" (the shipped one is --config {name})" if name in shipped else ""
    raise UserError(f"{config}: no such config file{hint}; shipped configs: {', '.join(shipped)}")


def read_config(config, overrides=()):
    """Load, override and validate a training config: a path, or the name of a shipped config."""
    path = config_file(config)
    try:
        raw = yaml.safe_load(path.read_text())
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a text file; a training config is YAML") from None
    except yaml.YAMLError as error:
        raise UserError(f"{path}: not valid YAML: {_one_line(error)}") from None
    if not isinstance(raw, dict):
        raise UserError(f"{path}: a training config is a YAML mapping")
    return parse_config(apply_overrides(raw, overrides))


def resolved_yaml(config):
    """The config as it ran (overrides applied, defaults filled in), for RUN/config.yaml."""
    return yaml.safe_dump(dump(config), sort_keys=False, default_flow_style=None)
