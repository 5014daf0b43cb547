"""What the `erfnet` command shows: the project's log lines (library code reports through `logging`), and
MindSpore's own C++/Python log kept out of sight unless asked for, as are the files MindSpore writes for itself.

MindSpore reads GLOG_v when it is imported (0 debug .. 3 error, 4 critical): it is set to 4 unless the user set
it or passed --verbose, so a normal run prints none of MindSpore's [WARNING]/[ERROR] lines. msrun workers
write MindSpore's log to files instead (`worker_environment`). Log lines go to stderr through tqdm.write, so
they never tear a live progress bar. MindSpore writes a graph that fails to compile (rank_0/om/analyze_fail.ir)
below MS_OM_PATH, the current folder by default: it is set to a folder of the system's temporary space unless
the user set it, so nothing appears in the user's folder.
MindSpore's image decoder (its bundled OpenCV) warns on stderr about a truncated file, which the command names in
its own line: OPENCV_LOG_LEVEL is set to ERROR on the same terms as GLOG_v.
"""
import logging
import os
import sys
import tempfile
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


def mindspore_files():
    """Where MindSpore's own files go: erfnet-mindspore-<user id> in the temporary folder."""
    return Path(tempfile.gettempdir()) / f"erfnet-mindspore-{os.getuid()}"


def set_up_logging(verbose=False):
    """Send the project's log records to stderr (debug ones too with `verbose`), silence MindSpore's own
    log unless `verbose` or the user's GLOG_v says otherwise, and send MindSpore's graph dumps to
    mindspore_files(). Call before MindSpore is imported."""
    _hidden["mindspore"] = not verbose and os.environ.setdefault("GLOG_v", MINDSPORE_QUIET) == MINDSPORE_QUIET
    if not verbose:
        os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    os.environ.setdefault("MS_OM_PATH", str(mindspore_files()))
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
