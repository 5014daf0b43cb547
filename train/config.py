"""Training configuration: a YAML file validated when loaded, every error naming the field.

Top-level fields (all required unless a default is shown):
  seed: int                      random seed of data order, augmentation, dropout and fresh weights
  lr0: float > 0                 learning rate at epoch 1 of the poly curve
  weight_decay: float >= 0       L2 added to the gradient (default 1e-4)
  poly: {epochs: 150, power: 0.9}  the nominal curve the stages slice
  batch_size: int > 0            per device
  height: int, multiple of 8     training height (width follows the images' aspect ratio)
  workers: int > 0               data-loading workers per device (default 2)
  model: {num_classes: 20, dropout_mode: channel|element, upsample_align: torch|zoo|from_weights}
                                 from_weights (the default): the alignment the starting weights record
                                 (a zoo checkpoint given to --init trains zoo-aligned; from scratch: torch)
  validation: {every: int > 0 epochs, height: int (default: height), batch_size: int (default 1)}
  checkpoints: {keep_last: int > 0 (default 2)}
  amp: {level: O0|O1|O2 (default O0), loss_scale: number > 0 or "dynamic" (default 1.0)}
  stages: {<number>: stage, ...}  run in increasing order
A stage:
  network: encoder | full        encoder: encoder + 1x1 head, labels at 1/8; full: the whole network
  epochs: [first, last]          its slice of the poly curve, 1 <= first <= last <= poly.epochs
  dropout: {enc64, enc128, decoder}  rates in [0, 1) (defaults from the layer table)
  augmentation: {recipe: zoo|pytorch, crop_ratio: r or [low, high] (zoo only)}
  init: scratch | previous | previous_encoder | {file: PATH, part: all|encoder}
        previous: the previous stage's final weights; previous_encoder: its encoder (and the encoder's head),
        with a fresh decoder; file: any weight file `convert.read_weights` reads (relative to the working folder)
Stages of the same network must not overlap in epochs. `overrides` are "dotted.path=value" strings, the value
parsed as YAML (`stages.2.epochs=[66,140]`).
"""
import copy
from dataclasses import dataclass
from pathlib import Path

import yaml

from erfnet.errors import UserError
from erfnet.spec import layer_table

NETWORKS = ("encoder", "full")
RECIPES = ("zoo", "pytorch")
INITS = ("scratch", "previous", "previous_encoder")
INIT_PARTS = ("all", "encoder")
AMP_LEVELS = ("O0", "O1", "O2")

FROM_WEIGHTS = "from_weights"
TOP_DEFAULTS = {"weight_decay": 1e-4, "poly": {"epochs": 150, "power": 0.9}, "workers": 2,
                "model": {"num_classes": 20, "dropout_mode": "channel", "upsample_align": FROM_WEIGHTS},
                "validation": {"every": 1}, "checkpoints": {"keep_last": 2},
                "amp": {"level": "O0", "loss_scale": 1.0}}
TOP_FIELDS = ("seed", "lr0", "weight_decay", "poly", "batch_size", "height", "workers", "model", "validation",
              "checkpoints", "amp", "stages")
STAGE_FIELDS = ("network", "epochs", "dropout", "augmentation", "init")


@dataclass(frozen=True)
class Stage:
    number: int
    network: str
    first_epoch: int
    last_epoch: int
    dropout: dict
    recipe: str
    crop_ratio: object
    init: str
    init_file: object = None
    init_part: str = "all"

    @property
    def name(self):
        return f"stage{self.number}"


@dataclass(frozen=True)
class TrainConfig:
    raw: dict
    seed: int
    lr0: float
    weight_decay: float
    poly_epochs: int
    poly_power: float
    batch_size: int
    height: int
    workers: int
    num_classes: int
    dropout_mode: str
    upsample_align: str
    validate_every: int
    val_height: int
    val_batch_size: int
    keep_last: int
    amp_level: str
    loss_scale: object
    stages: tuple

    def stage(self, number):
        return next(stage for stage in self.stages if stage.number == number)


def _fail(field, message):
    raise UserError(f"config field {field}: {message}")


def _mapping(value, field, allowed):
    if not isinstance(value, dict):
        _fail(field, f"must be a mapping, not {type(value).__name__}")
    unknown = [str(key) for key in value if key not in allowed]
    if unknown:
        _fail(f"{field}.{unknown[0]}" if field else unknown[0],
              f"unknown key; allowed: {', '.join(map(str, allowed))}")
    return value


def _int(value, field, low=None, high=None):
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(field, f"must be an integer, not {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        _fail(field, f"{value} is outside {low if low is not None else '-inf'}..{high if high is not None else 'inf'}")
    return value


def _number(value, field, low=None, low_inclusive=True):
    if isinstance(value, str):
        value = _float_text(value, field)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail(field, f"must be a number, not {value!r}")
    if low is not None and (value < low or (value == low and not low_inclusive)):
        _fail(field, f"must be {'>=' if low_inclusive else '>'} {low}, not {value}")
    return float(value)


def _float_text(text, field):
    """PyYAML reads exponents without a dot (1e-3) as strings: accept those, reject other text."""
    try:
        return float(text)
    except ValueError:
        _fail(field, f"must be a number, not {text!r}")


def _choice(value, field, choices):
    if value not in choices:
        _fail(field, f"must be one of {', '.join(choices)}, not {value!r}")
    return value


def _merged(defaults, value, field):
    if value is None:
        return copy.deepcopy(defaults)
    _mapping(value, field, tuple(defaults))
    return {**defaults, **value}


def _dropout(value, field):
    defaults = dict(layer_table().dropout_defaults)
    rates = _merged(defaults, value, field)
    for group, rate in rates.items():
        rate = _number(rate, f"{field}.{group}", 0.0)
        if rate >= 1:
            _fail(f"{field}.{group}", f"must be < 1, not {rate}")
        rates[group] = rate
    return rates


def _crop_ratio(value, field):
    if isinstance(value, list):
        if len(value) != 2:
            _fail(field, f"must be a number or [low, high], not {value!r}")
        low, high = (_number(v, field, 1.0) for v in value)
        if high < low:
            _fail(field, f"low {low} is above high {high}")
        return (low, high)
    return _number(value, field, 1.0)


def _stage(number, value, poly_epochs):
    field = f"stages.{number}"
    _mapping(value, field, STAGE_FIELDS)
    for required in ("network", "epochs", "init"):
        if required not in value:
            _fail(f"{field}.{required}", "missing")
    network = _choice(value["network"], f"{field}.network", NETWORKS)
    epochs = value["epochs"]
    if not isinstance(epochs, list) or len(epochs) != 2:
        _fail(f"{field}.epochs", f"must be [first, last], not {epochs!r}")
    first = _int(epochs[0], f"{field}.epochs", 1, poly_epochs)
    last = _int(epochs[1], f"{field}.epochs", first, poly_epochs)
    augmentation = _mapping(value.get("augmentation", {"recipe": "zoo"}), f"{field}.augmentation",
                            ("recipe", "crop_ratio"))
    recipe = _choice(augmentation.get("recipe", "zoo"), f"{field}.augmentation.recipe", RECIPES)
    crop_ratio = None
    if "crop_ratio" in augmentation:
        if recipe != "zoo":
            _fail(f"{field}.augmentation.crop_ratio", f"is a parameter of the zoo recipe, not of {recipe}")
        crop_ratio = _crop_ratio(augmentation["crop_ratio"], f"{field}.augmentation.crop_ratio")
    init, init_file, init_part = value["init"], None, "all"
    if isinstance(init, dict):
        _mapping(init, f"{field}.init", ("file", "part"))
        if "file" not in init:
            _fail(f"{field}.init.file", "missing")
        init_file = Path(str(init["file"]))
        if not init_file.is_file():
            _fail(f"{field}.init.file", f"{init_file}: no such file")
        init_part = _choice(init.get("part", "all"), f"{field}.init.part", INIT_PARTS)
        init = "file"
    else:
        _choice(init, f"{field}.init", INITS + ("{file: PATH, part: all|encoder}",))
    return Stage(number, network, first, last, _dropout(value.get("dropout"), f"{field}.dropout"), recipe,
                 crop_ratio, init, init_file, init_part)


def _check_stage_order(stages):
    for index, stage in enumerate(stages):
        field = f"stages.{stage.number}"
        if index == 0 and stage.init in ("previous", "previous_encoder"):
            continue
        if stage.init == "previous" and stages[index - 1].network != stage.network:
            _fail(f"{field}.init", f"previous: stage {stages[index - 1].number} trains the "
                  f"{stages[index - 1].network} network, stage {stage.number} the {stage.network}; "
                  "use previous_encoder or a file")
        for other in stages[:index]:
            if other.network == stage.network and not (stage.last_epoch < other.first_epoch
                                                        or other.last_epoch < stage.first_epoch):
                _fail(f"{field}.epochs", f"[{stage.first_epoch}, {stage.last_epoch}] overlaps stage {other.number}'s "
                      f"[{other.first_epoch}, {other.last_epoch}] of the same network")


def parse_config(raw):
    """A validated TrainConfig from the parsed YAML mapping `raw`."""
    _mapping(raw, "", TOP_FIELDS)
    for required in ("seed", "lr0", "batch_size", "height", "stages"):
        if required not in raw:
            _fail(required, "missing")
    poly = _merged(TOP_DEFAULTS["poly"], raw.get("poly"), "poly")
    poly_epochs = _int(poly["epochs"], "poly.epochs", 1)
    model = _merged(TOP_DEFAULTS["model"], raw.get("model"), "model")
    validation = _mapping(raw.get("validation", {}), "validation", ("every", "height", "batch_size"))
    checkpoints = _merged(TOP_DEFAULTS["checkpoints"], raw.get("checkpoints"), "checkpoints")
    amp = _merged(TOP_DEFAULTS["amp"], raw.get("amp"), "amp")
    height = _int(raw["height"], "height", 8)
    if height % 8:
        _fail("height", f"must be a multiple of 8, not {height}")
    loss_scale = amp["loss_scale"]
    if loss_scale != "dynamic":
        loss_scale = _number(loss_scale, "amp.loss_scale", 0.0, low_inclusive=False)
    stages_raw = raw["stages"]
    if not isinstance(stages_raw, dict) or not stages_raw:
        _fail("stages", "must be a non-empty mapping of stage number to stage")
    for key in stages_raw:
        _int(key, f"stages.{key}", 1)
    stages = tuple(_stage(number, stages_raw[number], poly_epochs) for number in sorted(stages_raw))
    _check_stage_order(stages)
    return TrainConfig(
        raw=raw, seed=_int(raw["seed"], "seed", 0), lr0=_number(raw["lr0"], "lr0", 0.0, low_inclusive=False),
        weight_decay=_number(raw.get("weight_decay", TOP_DEFAULTS["weight_decay"]), "weight_decay", 0.0),
        poly_epochs=poly_epochs, poly_power=_number(poly["power"], "poly.power", 0.0),
        batch_size=_int(raw["batch_size"], "batch_size", 1), height=height,
        workers=_int(raw.get("workers", TOP_DEFAULTS["workers"]), "workers", 1),
        num_classes=_int(model["num_classes"], "model.num_classes", 2),
        dropout_mode=_choice(model["dropout_mode"], "model.dropout_mode", ("channel", "element")),
        upsample_align=_choice(model["upsample_align"], "model.upsample_align", ("torch", "zoo", FROM_WEIGHTS)),
        validate_every=_int(validation.get("every", 1), "validation.every", 1),
        val_height=_int(validation.get("height", height), "validation.height", 8),
        val_batch_size=_int(validation.get("batch_size", 1), "validation.batch_size", 1),
        keep_last=_int(checkpoints["keep_last"], "checkpoints.keep_last", 1),
        amp_level=_choice(amp["level"], "amp.level", AMP_LEVELS), loss_scale=loss_scale, stages=stages)


def _parse_key(part):
    try:
        return int(part)
    except ValueError:
        return part


def apply_overrides(raw, overrides):
    """A copy of `raw` with each "dotted.path=value" applied (value parsed as YAML)."""
    raw = copy.deepcopy(raw)
    for override in overrides:
        path, equals, text = override.partition("=")
        if not equals or not path:
            raise UserError(f"--set {override!r}: expected dotted.path=value")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise UserError(f"--set {override!r}: value is not YAML ({error})") from None
        keys = [_parse_key(part) for part in path.split(".")]
        node = raw
        for depth, key in enumerate(keys[:-1]):
            if not isinstance(node.get(key) if isinstance(node, dict) else None, dict):
                _fail(".".join(map(str, keys[:depth + 1])), f"--set {override!r}: no such mapping in the config")
            node = node[key]
        node[keys[-1]] = value
    return raw


def read_config(path, overrides=()):
    """Load, override and validate a training config file."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such config file")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise UserError(f"{path}: not valid YAML ({error})") from None
    if not isinstance(raw, dict):
        raise UserError(f"{path}: a training config is a YAML mapping")
    return parse_config(apply_overrides(raw, overrides))


def resolved_yaml(config):
    """The config as it ran (overrides applied, defaults filled in), for RUN/config.yaml."""
    stages = {}
    for stage in config.stages:
        init = ({"file": str(stage.init_file), "part": stage.init_part} if stage.init == "file" else stage.init)
        augmentation = {"recipe": stage.recipe}
        if stage.crop_ratio is not None:
            augmentation["crop_ratio"] = list(stage.crop_ratio) if isinstance(stage.crop_ratio, tuple) \
                else stage.crop_ratio
        stages[stage.number] = {"network": stage.network, "epochs": [stage.first_epoch, stage.last_epoch],
                                "dropout": dict(stage.dropout), "augmentation": augmentation, "init": init}
    data = {"seed": config.seed, "lr0": config.lr0, "weight_decay": config.weight_decay,
            "poly": {"epochs": config.poly_epochs, "power": config.poly_power}, "batch_size": config.batch_size,
            "height": config.height, "workers": config.workers,
            "model": {"num_classes": config.num_classes, "dropout_mode": config.dropout_mode,
                      "upsample_align": config.upsample_align},
            "validation": {"every": config.validate_every, "height": config.val_height,
                           "batch_size": config.val_batch_size},
            "checkpoints": {"keep_last": config.keep_last},
            "amp": {"level": config.amp_level, "loss_scale": config.loss_scale}, "stages": stages}
    return yaml.safe_dump(data, sort_keys=False)
