"""Progress of an org scan on standard error: a bar redrawn in place on a terminal, one plain
line per repository anywhere else (CI logs: no ANSI, no carriage returns). Colour only on a
terminal and never when NO_COLOR is set (https://no-color.org)."""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TextIO

from ..redact import clip, redact
from .summary import RepoOutcome

_COLOURS = {"scanned": "32", "unchanged": "36", "skipped": "2", "failed": "31"}


class ConsoleProgress:
    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        tty: bool | None = None,
        color: bool | None = None,
        clock: type[time.struct_time] | None = None,
    ) -> None:
        self._out = stream or sys.stderr
        self._tty = self._out.isatty() if tty is None else tty
        no_color = bool(os.environ.get("NO_COLOR"))
        self._color = (self._tty and not no_color) if color is None else color
        self._total = 0
        self._done = 0
        self._failed = 0
        self._start = time.monotonic()
        self._lock = threading.Lock()
        self._bar_shown = False

    def start(self, total: int, reused: int) -> None:
        with self._lock:
            self._total = total
            self._start = time.monotonic()
            extra = f" ({reused} finished by an interrupted run)" if reused else ""
            self._line(f"tether org: {total} repositories to judge{extra}")

    def done(self, outcome: RepoOutcome) -> None:
        with self._lock:
            self._done += 1
            if outcome.status == "failed":
                self._failed += 1
            status = outcome.status
            if self._color:
                status = f"\x1b[{_COLOURS.get(status, '0')}m{status}\x1b[0m"
            detail = ""
            if outcome.status in ("scanned", "unchanged"):
                detail = f", {outcome.findings} findings"
                if outcome.upload:
                    detail += f", upload {outcome.upload['status']}"
                if outcome.dashboard:
                    detail += f", dashboard issue {outcome.dashboard['status']}"
            elif outcome.reason:
                detail = f": {clip(redact(outcome.reason), 160)}"
            width = len(str(self._total))
            text = f"[{self._done:>{width}}/{self._total}] {outcome.repo}: {status}{detail}"
            if self._tty:
                self._clear()
                # a failure stays on screen; the rest is overwritten by the bar
                if outcome.status == "failed":
                    self._out.write(text + "\n")
                self._draw(outcome.repo)
            else:
                self._out.write(text + "\n")
            self._out.flush()

    def note(self, text: str) -> None:
        with self._lock:
            self._line(f"tether org: {text}")

    def finish(self) -> None:
        with self._lock:
            if self._tty and self._bar_shown:
                self._clear()
                self._bar_shown = False
            elapsed = time.monotonic() - self._start
            self._out.write(
                f"tether org: {self._done}/{self._total} done in {elapsed:.1f} s"
                f"{f', {self._failed} failed' if self._failed else ''}\n"
            )
            self._out.flush()

    # -- terminal ------------------------------------------------------------------------

    def _line(self, text: str) -> None:
        if self._tty and self._bar_shown:
            self._clear()
        self._out.write(text + "\n")
        self._out.flush()

    def _clear(self) -> None:
        self._out.write("\r\x1b[2K")

    def _draw(self, last: str) -> None:
        total = max(1, self._total)
        width = 30
        filled = int(width * self._done / total)
        bar = "#" * filled + "-" * (width - filled)
        elapsed = time.monotonic() - self._start
        rate = self._done / elapsed if elapsed > 0 else 0.0
        left = (self._total - self._done) / rate if rate > 0 else 0.0
        self._out.write(
            f"[{bar}] {self._done}/{self._total}  {elapsed:.0f}s elapsed, ~{left:.0f}s left  "
            f"{clip(last, 40)}"
        )
        self._bar_shown = True
