"""The one progress display of long work (train, eval, infer, make-data, prepare), through tqdm.

On a terminal it is tqdm's live bar, cleared when the work ends (the command's results and log lines stay).
On a file or a pipe (msrun worker logs, CI) the same bar becomes plain lines without carriage returns: one
every LINE_SECONDS while the work goes on, and a last one when work that showed a line ends; work shorter than
LINE_SECONDS writes none.
"""
import sys

from tqdm import tqdm

LINE_SECONDS = 30.0


class _Lines:
    """A stream for tqdm that turns its carriage-return refreshes into whole lines, none repeated."""

    def __init__(self, stream):
        self.stream, self.last = stream, None

    def write(self, text):
        text = text.replace("\r", "").rstrip()
        if text and text != self.last:
            self.stream.write(text + "\n")
            self.last = text

    def flush(self):
        self.stream.flush()


def progress(total, desc, unit="img", disable=False, stream=None):
    """A tqdm bar for `total` units of work named `desc`; `disable` shows nothing (quiet runs, other ranks)."""
    stream = stream or sys.stderr
    if hasattr(stream, "isatty") and stream.isatty():
        return tqdm(total=total, desc=desc, unit=unit, disable=disable, leave=False, file=stream, mininterval=0.2,
                    dynamic_ncols=True)
    return tqdm(total=total, desc=desc, unit=unit, disable=disable, leave=True, file=_Lines(stream),
                mininterval=LINE_SECONDS, maxinterval=LINE_SECONDS, delay=LINE_SECONDS, ncols=110)
