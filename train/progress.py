"""The terminal progress bar of an epoch: steps done, loss, images/s and the time left."""
import sys
import time

BAR_WIDTH = 24


def clock(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class EpochProgress:
    def __init__(self, label, total_steps, stream=sys.stderr):
        self.label, self.total, self.stream = label, total_steps, stream
        self.start = time.perf_counter()

    def update(self, steps, loss, images):
        seconds = time.perf_counter() - self.start
        filled = BAR_WIDTH * steps // max(self.total, 1)
        rate = images / seconds if seconds > 0 else 0.0
        eta = seconds / steps * (self.total - steps) if steps else 0.0
        print(f"\r{self.label} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {steps}/{self.total} "
              f"loss {loss:.4f} {rate:.1f} images/s ETA {clock(eta)}", end="", file=self.stream, flush=True)

    def finish(self, summary):
        print(f"\r{self.label} {summary}".ljust(100), file=self.stream, flush=True)
