"""Progress as people expect it, on standard error.

On a terminal: a live line (rich) with a bar where the amount of work is known. Not on a
terminal (CI logs, ``| tee``): a plain line whenever there is news, at most one every
``PLAIN_EVERY`` seconds, so a long measurement never looks hung and a log never floods.
``--quiet``: nothing. ``--verbose``: every message, each on its own line.
"""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

PLAIN_EVERY = 5.0


class Reporter:
    def __init__(
        self, console: Console, what: str, quiet: bool = False, verbose: bool = False
    ) -> None:
        self.console = console
        self.what = what
        self.quiet = quiet
        self.verbose = verbose
        self.live = console.is_terminal and not quiet and not verbose
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._last_plain = 0.0
        self._pending = ""
        self._started = time.monotonic()

    def __enter__(self) -> Reporter:
        if self.live:
            self._bar = Progress(
                SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                MofNCompleteColumn(), TimeElapsedColumn(), console=self.console, transient=True,
            )  # fmt: skip
            self._bar.start()
            self._task = self._bar.add_task(self.what, total=None)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
        elif self._pending and not self.quiet and not self.verbose:
            self._plain(self._pending)  # the last news is never lost

    def __call__(self, message: str) -> None:
        """News: ``judging: drawing tests``."""
        if self.quiet:
            return
        line = f"{self.what}: {message}"
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, description=line)
        elif self.verbose:
            self.console.print(Text(line, style="dim"))
        else:
            self._pending = line
            if time.monotonic() - self._last_plain >= PLAIN_EVERY:
                self._plain(line)

    def advance(self, done: int, total: int) -> None:
        """How much of the work is done (a bar on a terminal, ``3/10`` in plain lines)."""
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=done, total=total)
        elif not self.quiet:
            self(f"{done}/{total} done")

    def _plain(self, line: str) -> None:
        elapsed = time.monotonic() - self._started
        self.console.print(f"[{elapsed:6.0f} s] {line}", markup=False, highlight=False)
        self._last_plain = time.monotonic()
        self._pending = ""
