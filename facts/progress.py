"""The one progress display of long work (train, eval, infer, make-data, prepare), through tqdm.

On a terminal it is tqdm's live bar. On a file or a pipe (msrun worker logs, CI) the same bar becomes plain
lines without carriage returns: one when the work starts, one every LINE_SECONDS, one when it ends.
"""
import sys

from tqdm import tqdm

LINE_SECONDS = 30.0


class _Lines:
    """A stream for tqdm that turns its carriage-return refreshes into whole lines."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        text = text.replace("\r", "").rstrip()
        if text:
            self.stream.write(text + "\n")

    def flush(self):
        self.stream.flush()


def progress(total, desc, unit="img", disable=False, stream=None):
    """A tqdm bar for `total` units of work named `desc`; `disable` shows nothing (quiet runs, other ranks)."""
    stream = stream or sys.stderr
    live = hasattr(stream, "isatty") and stream.isatty()
    return tqdm(total=total, desc=desc, unit=unit, disable=disable, leave=True, file=stream if live else _Lines(stream),
                mininterval=0.2 if live else LINE_SECONDS, maxinterval=LINE_SECONDS, dynamic_ncols=live,
                ncols=None if live else 110)
