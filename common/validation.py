"""Checks of flag values that run before any model loads; each failure is one :class:`ToolkitError` line.

Shared by every entry module: numeric ranges, finite and non-negative weights, a writable output folder and
an existing weights file. (A division's own bounds live with the division: ``submodular_attribution.division``.)
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

from common.errors import ToolkitError


def flag_name(dest: str) -> str:
    """``region_size`` -> ``--region-size``."""
    return "--" + dest.replace("_", "-")


def check_range(flag: str, value: float | int | None, low: float | None = None, high: float | None = None,
                hint: str = "") -> None:
    """``low <= value <= high`` (either bound may be None) and finite; None passes (an unset optional flag)."""
    if value is None:
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise ToolkitError(f"{flag} {value}: must be a finite number{hint and '; ' + hint}")
    if (low is not None and value < low) or (high is not None and value > high):
        if low is not None and high is not None:
            bounds = f"between {low} and {high}"
        elif low is not None:
            bounds = f">= {low}"
        else:
            bounds = f"<= {high}"
        raise ToolkitError(f"{flag} {value}: must be {bounds}{hint and '; ' + hint}")


def check_weights(values: dict[str, float], allow_negative: bool = False) -> None:
    """Objective weights (e.g. ``{"--lambda1": 0.0, ...}``): finite, and >= 0 unless ``allow_negative``."""
    for flag, value in values.items():
        check_range(flag, value)
        if value < 0 and not allow_negative:
            raise ToolkitError(f"{flag} {value}: negative weight (it rewards the opposite of its term); "
                               "pass --allow-negative if you mean it")


def check_writable_dir(flag: str, path: str | Path) -> Path:
    """Prove that ``path`` is, or can be created as, a folder we can write in, without creating it: the nearest
    existing folder on its way gets a probe file (also as root, who ignores ``chmod``, on a read-only mount).

    Raises:
        ToolkitError: ``path`` (or a parent) is a file, or the folder cannot be created or written.
    """
    path = Path(path)
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ToolkitError(f"{flag} {path}: {existing} is a file, not a folder; choose another {flag}")
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ToolkitError(f"{flag} {path}: cannot write in {existing} ({exc.strerror or exc.__class__.__name__}); "
                           f"choose a writable {flag}") from None
    return path


def check_input_file(flag: str, path: str | Path | None) -> None:
    """``path`` (when given) is an existing file."""
    if path is not None and not Path(path).is_file():
        raise ToolkitError(f"{flag} {path}: file not found")
