"""Checks of flag values that run before any model loads; each failure is one :class:`ToolkitError` line.

Shared by every entry module: numeric ranges, finite and non-negative weights, a writable output folder,
an existing weights file, and the region-count bounds of a division at the model's input size.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

from common.errors import ToolkitError

DEFAULT_INPUT_SIZE = 224
DEFAULT_MAX_REGIONS = 1024


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


def check_division(division: str, input_size: int, region_size: int | None = None, grid_size: int | None = None,
                   max_regions: int = DEFAULT_MAX_REGIONS) -> None:
    """The division gives between 2 and ``max_regions`` regions on an ``input_size`` square image.

    SLICO places round(S / region_size) seeds per side, the first at region_size / 2 (OpenCV ``SuperpixelSLIC``):
    region_size > 2S/3 gives one seed, hence one region; from region_size = 2S on the seed lies outside the
    image (or there is none) and OpenCV reads out of bounds (the segfault).
    So region_size must be <= S / 2 (at least 2 x 2 seeds). A grid needs 2 <= grid_size and at least one
    pixel per cell.
    """
    if division == "slico" and region_size is not None:
        check_range("--region-size", region_size, 1, input_size // 2,
                    hint=f"SLICO places round({input_size}/region_size) seeds per side at the model's {input_size}x{input_size} "
                         "input (more than half the side gives one region; 2x the side crashes OpenCV)")
        estimate = round(input_size / region_size) ** 2
        if estimate > max_regions:
            raise ToolkitError(f"--region-size {region_size}: ~{estimate} regions at {input_size}x{input_size}, more than "
                               f"--max-regions {max_regions} (greedy costs ~m^2/2 forwards); use a larger region size "
                               "or raise --max-regions")
    if division == "grid" and grid_size is not None:
        check_range("--grid-size", grid_size, 2, input_size,
                    hint=f"cells per side of the {input_size}x{input_size} model input (1 gives one region)")
        if grid_size ** 2 > max_regions:
            raise ToolkitError(f"--grid-size {grid_size}: {grid_size ** 2} regions, more than --max-regions {max_regions} "
                               "(greedy costs ~m^2/2 forwards); use a smaller grid or raise --max-regions")
