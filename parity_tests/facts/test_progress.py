"""The one progress display (facts.progress) on a file or a pipe: plain lines without carriage returns, one per
LINE_SECONDS of work and a last one at the end; work shorter than that writes none. On a terminal it is a live
bar (carriage returns). tqdm's clock is replaced by one the test advances, so the lines are exact."""
import io

import pytest
import tqdm.std

from facts.progress import LINE_SECONDS, progress


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(tqdm.std, "time", clock)
    monkeypatch.setattr(tqdm.std.tqdm, "monitor_interval", 0)  # no refresh thread on the real clock
    return clock


def run(clock, stream, steps, seconds_per_step):
    with progress(steps, "work", unit="step", stream=stream) as bar:
        for _ in range(steps):
            clock.now += seconds_per_step
            bar.update()
    return stream.getvalue()


def test_a_file_gets_a_line_per_interval_and_one_at_the_end(clock):
    text = run(clock, io.StringIO(), 100, LINE_SECONDS / 30)
    assert "\r" not in text and text.endswith("\n")
    lines = text.splitlines()
    assert [line.split("|")[0].split(":")[0] for line in lines] == ["work"] * 4
    assert [line.split("|")[2].split()[0] for line in lines] == ["30/100", "60/100", "90/100", "100/100"]


def test_work_shorter_than_an_interval_writes_nothing_to_a_file(clock):
    assert run(clock, io.StringIO(), 10, LINE_SECONDS / 20) == ""


def test_a_terminal_gets_a_live_bar(clock):
    text = run(clock, Terminal(), 10, 1.0)
    assert text.count("\r") >= 10 and "10/10" in text


def test_disabled_shows_nothing(clock):
    stream = io.StringIO()
    with progress(10, "work", stream=stream, disable=True) as bar:
        for _ in range(10):
            clock.now += LINE_SECONDS
            bar.update()
    assert stream.getvalue() == ""
