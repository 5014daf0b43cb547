"""A small schema for YAML configuration: frozen dataclasses whose fields carry their rules, so one declaration
drives parsing, defaults, validation and the YAML written back.

`rule(...)` declares a field: its default (none: the field is required), bounds, choices, a multiple it must be
of, or a parser of its own for a shape the rules do not cover. `parse(cls, raw, path)` builds the dataclass from a
parsed YAML mapping, raising UserError naming the dotted field (`config field stages.2.epochs: ...`); `dump(obj)`
gives the plain mapping for yaml.safe_dump. Written here because the config needs errors that name the field
and a resolved YAML, which neither PyYAML nor dataclasses give.
"""
import dataclasses
import typing

from facts.errors import UserError

REQUIRED = dataclasses.MISSING


def fail(field, message):
    raise UserError(f"config field {field}: {message}")


def rule(default=REQUIRED, *, low=None, above=None, below=None, high=None, choices=None, multiple_of=None,
         parse=None, dump=None):
    """A dataclass field with its rules. low/high: inclusive bounds; above/below: exclusive ones; choices: the
    allowed values; parse(value, field) -> value and dump(value) -> YAML value replace the type's own."""
    metadata = {"low": low, "above": above, "below": below, "high": high, "choices": choices,
                "multiple_of": multiple_of, "parse": parse, "dump": dump, "key": False}
    if dataclasses.is_dataclass(default):
        return dataclasses.field(default_factory=lambda: default, metadata=metadata)
    if isinstance(default, dict):
        return dataclasses.field(default_factory=lambda: dict(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def key():
    """A field that is not in the YAML mapping but its key (a stage's number): given to `parse`, not dumped."""
    return dataclasses.field(metadata={"key": True})


def _in_yaml(f):
    return f.init and not f.metadata.get("key")


def integer(value, field):
    if isinstance(value, bool) or not isinstance(value, int):
        fail(field, f"must be an integer, not {value!r}")
    return value


def number(value, field):
    """A float; PyYAML reads exponents without a dot (1e-3) as strings, which are accepted."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            fail(field, f"must be a number, not {value!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        fail(field, f"must be a number, not {value!r}")
    return float(value)


def text(value, field):
    if not isinstance(value, str):
        fail(field, f"must be text, not {value!r}")
    return value


def mapping(value, field, allowed):
    if not isinstance(value, dict):
        fail(field, f"must be a mapping, not {type(value).__name__}")
    unknown = [str(key) for key in value if key not in allowed]
    if unknown:
        fail(f"{field}.{unknown[0]}" if field else unknown[0], f"unknown key; allowed: {', '.join(map(str, allowed))}")
    return value


def check(value, field, meta):
    """Apply the declared bounds, choices and multiple to a parsed value."""
    if meta["choices"] is not None and value not in meta["choices"]:
        fail(field, f"must be one of {', '.join(map(str, meta['choices']))}, not {value!r}")
    if meta["low"] is not None and value < meta["low"]:
        fail(field, f"must be >= {meta['low']}, not {value}")
    if meta["above"] is not None and value <= meta["above"]:
        fail(field, f"must be > {meta['above']}, not {value}")
    if meta["below"] is not None and value >= meta["below"]:
        fail(field, f"must be < {meta['below']}, not {value}")
    if meta["high"] is not None and value > meta["high"]:
        fail(field, f"must be <= {meta['high']}, not {value}")
    if meta["multiple_of"] and value % meta["multiple_of"]:
        fail(field, f"must be a multiple of {meta['multiple_of']}, not {value}")
    return value


PARSERS = {int: integer, float: number, str: text}


def parse_value(kind, value, field, meta):
    if meta["parse"] is not None:
        return meta["parse"](value, field)
    if value is None and typing.get_origin(kind) is typing.Union:
        return None
    if typing.get_origin(kind) is typing.Union:
        kind = next(option for option in typing.get_args(kind) if option is not type(None))
    if dataclasses.is_dataclass(kind):
        return parse(kind, value, field)
    return check(PARSERS[kind](value, field), field, meta)


def parse(cls, raw, path="", **keys):
    """An instance of the dataclass `cls` from the mapping `raw` (None: every default); `keys` give its key()
    fields."""
    fields = [f for f in dataclasses.fields(cls) if _in_yaml(f)]
    raw = mapping({} if raw is None else raw, path, [f.name for f in fields])
    hints = typing.get_type_hints(cls)
    values = dict(keys)
    for f in fields:
        field = f"{path}.{f.name}" if path else f.name
        if f.name in raw:
            values[f.name] = parse_value(hints[f.name], raw[f.name], field, f.metadata)
        elif f.default is REQUIRED and f.default_factory is REQUIRED:
            fail(field, "missing")
    return cls(**values)


def dump(obj):
    """The plain mapping of a schema dataclass, as YAML writes it."""
    out = {}
    for f in dataclasses.fields(obj):
        if not _in_yaml(f):
            continue
        value = getattr(obj, f.name)
        if f.metadata.get("dump") is not None:
            value = f.metadata["dump"](value)
        elif dataclasses.is_dataclass(value):
            value = dump(value)
        out[f.name] = value
    return out
