"""Progress of long work on the command line: a bar on a terminal, a line every few seconds elsewhere.

A bar redrawn in place is what a person at a terminal wants; in a CI log or a file the same
carriage returns pile up into one enormous line, so there a plain line is written at most every
`interval` seconds, and always for the last update.
"""

import sys
import time
from typing import TextIO

BAR_WIDTH = 30


class ProgressLine:
    def __init__(self, label: str, *, stream: TextIO | None = None, interval: float = 5.0):
        self.label = label
        self.stream = stream or sys.stderr
        self.interval = interval
        self.on_terminal = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_line_at: float | None = None

    def update(self, done: int, total: int | None, extra: str = "", *, final: bool = False) -> None:
        counts = f"{done}/{total}" if total is not None else f"{done}"
        if self.on_terminal:
            filled = int(BAR_WIDTH * done / total) if total else 0
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            self.stream.write(f"\r{self.label[:28]:<28} [{bar}] {counts} {extra}".rstrip() + ("\n" if final else ""))
            self.stream.flush()
            return
        now = time.monotonic()
        if final or self._last_line_at is None or now - self._last_line_at >= self.interval:
            self._last_line_at = now
            percent = f" ({100 * done // total}%)" if total else ""
            self.stream.write(f"{self.label}: {counts}{percent} {extra}".rstrip() + "\n")
            self.stream.flush()
