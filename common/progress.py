"""Progress bars that stay readable in redirected logs.

On a terminal: a tqdm bar. When stderr is a file or a pipe (a SLURM log, ``> run.log 2>&1``): plain lines
``desc: 12/50 img, 0.41 img/s, eta 93 s`` every ``interval`` seconds and at the end, with no carriage returns
or escape codes. The count is of finished items (callers update after an item is done, never before), and
the rate and eta leave out items that took no time (:func:`advance` with ``computed=False``). ``TOOLKIT_PROGRESS=plain|tty|off`` overrides the detection; ``TOOLKIT_PROGRESS_INTERVAL``
sets the seconds between plain lines.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any


class PlainProgress:
    """The subset of tqdm's interface the toolkit uses, printing whole lines to stderr."""

    def __init__(self, iterable: Iterable[Any] | None = None, total: int | None = None, desc: str = "",
                 unit: str = "it", initial: int = 0, interval: float | None = None) -> None:
        self.iterable = iterable
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        self.total, self.desc, self.unit, self.n = total, desc, unit, initial
        self.interval = float(os.environ.get("TOOLKIT_PROGRESS_INTERVAL", 30.0)) if interval is None else interval
        self.start = self.last = time.monotonic()
        self.initial = initial
        self.postfix = ""

    def __iter__(self) -> Iterator[Any]:
        for item in self.iterable or ():
            yield item
            self.update(1)
        self.close()

    def update(self, count: int = 1) -> None:
        self.n += count
        if time.monotonic() - self.last >= self.interval:
            self._line()

    def set_postfix_str(self, text: str) -> None:
        self.postfix = text

    def _line(self) -> None:
        self.last = time.monotonic()
        elapsed = max(self.last - self.start, 1e-9)
        rate = (self.n - self.initial) / elapsed
        total = f"/{self.total}" if self.total is not None else ""
        eta = f", eta {(self.total - self.n) / rate:.0f} s" if self.total is not None and rate > 0 else ""
        post = f" [{self.postfix}]" if self.postfix else ""
        print(f"{self.desc}: {self.n}{total} {self.unit}, {rate:.3g} {self.unit}/s{eta}{post}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.total is None or self.n > self.initial:
            self._line()
        self.n = self.initial = self.n  # a second close prints nothing new
        self.total = self.total

    @staticmethod
    def write(text: str) -> None:
        print(text, file=sys.stderr, flush=True)


class _Off(PlainProgress):
    def _line(self) -> None:
        pass


def progress_mode() -> str:
    """``tty``, ``plain`` or ``off`` from ``TOOLKIT_PROGRESS``, else ``tty`` when stderr is a terminal."""
    mode = os.environ.get("TOOLKIT_PROGRESS", "").lower()
    if mode in ("tty", "plain", "off"):
        return mode
    return "tty" if sys.stderr.isatty() else "plain"


def progress_bar(iterable: Iterable[Any] | None = None, *, total: int | None = None, desc: str = "", unit: str = "it",
                 enabled: bool = True, leave: bool = True, initial: int = 0) -> Any:
    """A tqdm bar on a terminal, :class:`PlainProgress` lines in a log, a silent stand-in when disabled."""
    mode = progress_mode() if enabled else "off"
    if mode == "tty":
        from tqdm.auto import tqdm

        return tqdm(iterable, total=total, desc=desc, unit=unit, leave=leave, initial=initial, dynamic_ncols=True)
    if mode == "plain" and leave:
        return PlainProgress(iterable, total=total, desc=desc, unit=unit, initial=initial)
    return _Off(iterable, total=total, desc=desc, unit=unit, initial=initial)


def advance(bar: Any, count: int = 1, *, computed: bool = True) -> None:
    """Count ``count`` finished items on ``bar``; ``computed=False`` (skipped, done elsewhere) keeps them out of
    the rate and eta of plain lines (they took no time here)."""
    if not computed and isinstance(bar, PlainProgress):
        bar.initial += count
    bar.update(count)


def log_line(text: str) -> None:
    """One line to stderr (per-sample errors and warnings), safe next to a tqdm bar."""
    if progress_mode() == "tty":
        from tqdm.auto import tqdm

        tqdm.write(text, file=sys.stderr)
    else:
        print(text, file=sys.stderr, flush=True)
