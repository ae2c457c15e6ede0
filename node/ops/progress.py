"""Progress of a long operation (catching up, restoring, verifying a whole log), on stderr.

On a terminal: one line redrawn in place, ``verifying the log: 1200/5000 entries (830/s)``. Elsewhere (a
log file, a pipe, a test): a plain line at most every ``interval_s`` seconds, and always the last one, so a
log shows that the work went on without thousands of lines. Nothing goes to stdout, so ``--json`` stays
one object.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

PLAIN_INTERVAL_S = 5.0


class Progress:
    def __init__(
        self,
        label: str,
        total: int | None,
        unit: str = "entries",
        *,
        stream: TextIO | None = None,
        interval_s: float = PLAIN_INTERVAL_S,
    ) -> None:
        self.label, self.total, self.unit = label, total, unit
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.interval_s = interval_s
        self.started = self.shown_at = time.monotonic()
        self.done = 0
        self.finished = False

    def update(self, done: int, total: int | None = None) -> None:
        """``done`` units so far (of ``total``, if it became known)."""
        self.done = done
        if total is not None:
            self.total = total
        now = time.monotonic()
        if self.tty:
            self.stream.write("\r" + self.line(now) + "\x1b[K")
            self.stream.flush()
        elif now - self.shown_at >= self.interval_s:
            self.stream.write(self.line(now) + "\n")
            self.stream.flush()
            self.shown_at = now

    def finish(self, note: str = "") -> None:
        """The last line, whatever the interval: the total reached and the mean rate."""
        if self.finished:
            return
        self.finished = True
        line = self.line(time.monotonic()) + (f" — {note}" if note else "")
        self.stream.write(("\r" + line + "\x1b[K\n") if self.tty else line + "\n")
        self.stream.flush()

    def line(self, now: float) -> str:
        elapsed = now - self.started
        of = f"/{self.total}" if self.total is not None else ""
        rate = f" ({self.done / elapsed:,.0f}/s)" if elapsed >= 0.5 and self.done else ""
        return f"{self.label}: {self.done}{of} {self.unit}{rate}"
