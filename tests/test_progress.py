"""Progress on standard error: plain lines every few seconds off a terminal, never a flood,
never silence on long work, nothing with --quiet, everything with --verbose."""

from __future__ import annotations

import io

from rich.console import Console

from kernelswarm.cli import progress
from kernelswarm.cli.progress import Reporter


def _console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=False, width=200), buffer


def test_off_a_terminal_news_is_a_plain_line_at_most_every_few_seconds(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock[0])
    console, buffer = _console()
    with Reporter(console, "measuring") as report:
        report("starting")  # the first news at once: a long job never starts silent
        clock[0] += 1
        report("warming up eager")  # within the interval: held back
        clock[0] += 1
        report("warming up compile")
        clock[0] += progress.PLAIN_EVERY
        report("timing")  # past the interval: printed
        report("timing: 40%")  # held back, then said at the end
    lines = buffer.getvalue().splitlines()
    assert [line.split("] ", 1)[1] for line in lines] == [
        "measuring: starting",
        "measuring: timing",
        "measuring: timing: 40%",
    ]
    assert lines[1].startswith("[     7 s]")


def test_quiet_says_nothing_and_verbose_says_everything():
    console, buffer = _console()
    with Reporter(console, "judging", quiet=True) as report:
        report("a")
        report.advance(1, 2)
    assert buffer.getvalue() == ""
    console, buffer = _console()
    with Reporter(console, "judging", verbose=True) as report:
        for word in ("a", "b", "c"):
            report(word)
    assert buffer.getvalue().splitlines() == ["judging: a", "judging: b", "judging: c"]


def test_on_a_terminal_a_live_bar_with_the_amount_done():
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120)
    with Reporter(console, "selftest") as report:
        assert report.live and report._bar is not None
        report.advance(3, 10)
        task = report._bar.tasks[0]
        assert (task.completed, task.total) == (3, 10)
