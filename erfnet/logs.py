"""What the `erfnet` command shows: the project's log lines (library code reports through `logging`), and
MindSpore's own C++/Python log kept out of sight unless asked for.

MindSpore reads GLOG_v when it is imported (0 debug .. 3 error, 4 critical): it is set to 4 unless the user set
it or passed --verbose, so a normal run prints none of MindSpore's [WARNING]/[ERROR] lines. msrun workers
write MindSpore's log to files instead (`worker_environment`). Log lines go to stderr through tqdm.write, so
they never tear a live progress bar.
"""
import logging
import os
import sys
from pathlib import Path

from tqdm import tqdm

MINDSPORE_QUIET = "4"
_hidden = {"mindspore": False}


class _TqdmHandler(logging.Handler):
    def emit(self, record):
        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:
            self.handleError(record)


class _Format(logging.Formatter):
    """Info lines as they are; warnings and errors with their level in front."""

    def format(self, record):
        text = super().format(record)
        return text if record.levelno == logging.INFO else f"{record.levelname.lower()}: {text}"


def set_up_logging(verbose=False):
    """Send the project's log records to stderr (debug ones too with `verbose`), and silence MindSpore's own
    log unless `verbose` or the user's GLOG_v says otherwise. Call before MindSpore is imported."""
    _hidden["mindspore"] = not verbose and os.environ.setdefault("GLOG_v", MINDSPORE_QUIET) == MINDSPORE_QUIET
    handler = _TqdmHandler()
    handler.setFormatter(_Format("%(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def worker_environment(log_dir):
    """Variables for the msrun workers of this command: where MindSpore's log is hidden here, each worker writes
    it to files in `log_dir`/mindspore/rank_<N>/logs/ instead of its console (a worker's cluster threads log
    INFO lines when it exits, whatever GLOG_v says). The user's own GLOG_ settings are kept."""
    if not _hidden["mindspore"]:
        return {}
    return {name: value for name, value in (("GLOG_logtostderr", "0"),
                                            ("GLOG_log_dir", str(Path(log_dir).resolve() / "mindspore")))
            if name not in os.environ}
