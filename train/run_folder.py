"""A training run's folder: how `erfnet train` knows a folder is one of its runs, keeps the run's config, and
cleans up what an interrupted write of its own left there.

RUN/erfnet_run.json marks the folder as a run and records the sha256 of the RUN/config.yaml the run wrote. A
folder that does not exist, is empty, or holds only msrun_logs/ (written by the launcher before the workers
start) becomes a new run; any other folder without the marker is the user's and is refused, so a user's own
config.yaml or notes are never trained over. A run keeps its config: continuing it (--resume, or stages not run
yet) with a config that differs in a field that shaped what the folder already holds is refused, naming the
fields. The fields of stages with no results yet may change (RUN/config.yaml is then rewritten), and so may the
fields that change no number the run writes (NEUTRAL_FIELDS).
"""
import hashlib
import json
import logging
from pathlib import Path

from facts.atomic import atomic_output, check_folder_writable, remove_leftovers
from facts.errors import UserError
from ms_erfnet.devices import LAUNCHER_LOGS
from train.config import read_config, resolved_yaml
from train.schema import dump

log = logging.getLogger(__name__)

MARKER = "erfnet_run.json"
CONFIG = "config.yaml"
NEUTRAL_FIELDS = ("workers", "worker_kind", "checkpoints.keep_last")  # data loading, epoch checkpoints kept


def _sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


def is_run(run_dir):
    return (Path(run_dir) / MARKER).is_file()


def stage_has_results(run_dir, stage):
    folder = Path(run_dir) / stage.name
    return folder.is_dir() and any(folder.iterdir())


def _leaves(value, prefix=""):
    """{"stages.1.epochs": [1, 2], "lr0": 0.002, ...}: the dotted fields of a dumped config."""
    if not isinstance(value, dict):
        return {prefix: value}
    leaves = {}
    for key, item in value.items():
        leaves.update(_leaves(item, f"{prefix}.{key}" if prefix else str(key)))
    return leaves


def changed_fields(before, after, stages_with_results):
    """Dotted fields in which two configs differ, as "field (run: X, now: Y)", leaving out NEUTRAL_FIELDS and the
    fields of stages whose numbers are not in `stages_with_results`."""
    old, new = _leaves(dump(before)), _leaves(dump(after))
    changes = []
    for field in sorted(set(old) | set(new)):
        parts = field.split(".")
        if field in NEUTRAL_FIELDS or (parts[0] == "stages" and int(parts[1]) not in stages_with_results):
            continue
        if old.get(field, "absent") != new.get(field, "absent"):
            changes.append(f"{field} (run: {old.get(field, 'absent')}, now: {new.get(field, 'absent')})")
    return changes


def _recorded_config(run_dir):
    """The run's own config, or None when the run has not written it yet; UserError when RUN/config.yaml is not
    the file the run wrote (edited since)."""
    path = Path(run_dir) / CONFIG
    if not path.is_file():
        return None
    try:
        recorded = json.loads((Path(run_dir) / MARKER).read_text())["config_sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        raise UserError(f"{Path(run_dir) / MARKER}: unreadable run marker; use another --out") from None
    if _sha256(path.read_text(errors="replace")) != recorded:
        raise UserError(f"{path}: changed since this run wrote it, so the run's config is unknown; restore it, "
                        f"or use another --out")
    return read_config(path)


def check_run_folder(run_dir, config, chosen, resume):
    """Refuse a --out that is not this run's to write (see the module docstring); writes nothing. `chosen`: the
    stages this command runs. Returns the run's recorded config, or None for a new run."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise UserError(f"--out {run_dir}: is a file; give a folder for the run")
    check_folder_writable(run_dir)
    if not is_run(run_dir):
        entries = sorted(entry.name for entry in run_dir.iterdir() if entry.name != LAUNCHER_LOGS) \
            if run_dir.is_dir() else []
        if entries:
            held = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
            what = "nothing to resume" if resume else "give a new or empty folder"
            raise UserError(f"--out {run_dir}: not a training run (no {MARKER}), it holds {held}; {what}")
        return None
    recorded = _recorded_config(run_dir)
    with_results = [stage.number for stage in (recorded or config).stages if stage_has_results(run_dir, stage)]
    if recorded is None and with_results:
        raise UserError(f"{run_dir / CONFIG}: missing, so the config of the stages in this run is unknown; use "
                        f"another --out")
    if recorded is not None:
        changes = changed_fields(recorded, config, with_results)
        if changes:
            raise UserError(f"--out {run_dir}: this run was made with another config ({run_dir / CONFIG}); these "
                            f"fields differ: {'; '.join(changes)}. Use the run's config, or another --out")
    busy = [stage.name for stage in chosen if stage.number in with_results]
    if busy and not resume:
        raise UserError(f"--out {run_dir}: already holds {', '.join(busy)}; pass --resume to continue, or use "
                        f"another --out")
    return recorded


def open_run(run_dir, config, chosen, resume):
    """Check the folder (check_run_folder), remove the temporaries an interrupted write left in it, and record
    the run's config (the marker first, so a kill between the two leaves a folder that is still a run)."""
    run_dir = Path(run_dir)
    recorded = check_run_folder(run_dir, config, chosen, resume)
    folders = [run_dir] + sorted(path for path in run_dir.glob("stage*") if path.is_dir())
    folders += [folder / "checkpoints" for folder in folders[1:]]
    for path in [path for folder in folders for path in remove_leftovers(folder)]:
        log.info(f"removed {path}, left by an interrupted write")
    text = resolved_yaml(config)
    if recorded is not None and (run_dir / CONFIG).read_text() == text:
        return
    with atomic_output(run_dir / MARKER) as temporary:
        temporary.write_text(json.dumps({"written_by": "erfnet train", "config_sha256": _sha256(text)}) + "\n")
    with atomic_output(run_dir / CONFIG) as temporary:
        temporary.write_text(text)
