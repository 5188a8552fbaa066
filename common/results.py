"""Result files: atomic writes, resume (skip a sample whose json exists) and an error log that goes on."""

from __future__ import annotations

import json
import os
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from common.errors import ToolkitError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Callable[[Any], None], mode: str) -> None:
    """Call ``write(handle)`` on a temp file beside ``path`` (opened with ``mode``), then rename it to ``path``.

    A killed process never leaves a half-written ``path``; the file gets the usual umask permissions.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as handle:
            write(handle)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; results should read like normal files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: str | Path, data: Any) -> None:
    """Write ``data`` as indented JSON through a temp file + rename (a killed run never leaves half a file)."""
    atomic_write(Path(path), lambda h: json.dump(data, h, indent=4), "w")


def write_npy_atomic(path: str | Path, array: np.ndarray) -> None:
    """Write ``array`` as .npy through a temp file + rename."""
    atomic_write(Path(path), lambda h: np.save(h, array), "wb")


def to_jsonable(value: Any) -> Any:
    """numpy/torch scalars and arrays -> plain Python for json."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value


@dataclass
class BatchReport:
    """What a batch run did: sample counts by outcome."""

    done: int = 0
    skipped: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"{self.done} explained, {self.skipped} already done (skipped), {self.failed} failed"


def log_error(run_dir: str | Path, sample_name: str, exc: BaseException) -> None:
    """Append one line ``{"sample", "error", "traceback", "time"}`` to ``<run_dir>/errors.jsonl``."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    record = {
        "sample": sample_name,
        "error": f"{exc.__class__.__name__}: {exc}",
        "traceback": traceback.format_exc(limit=5),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    with open(run_dir / "errors.jsonl", "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")


def run_samples(
    samples: Iterable[Any],
    *,
    run_dir: str | Path,
    is_done: Callable[[Any], bool],
    process: Callable[[Any], None],
    name_of: Callable[[Any], str] = lambda s: s.name,
    desc: str = "explaining",
    progress: bool = True,
) -> BatchReport:
    """The one batch loop: skip finished samples (resume), process the rest, log failures and go on.

    ``process`` must write its results atomically; a :class:`ToolkitError` or any exception raised for one
    sample is logged to ``errors.jsonl`` and printed as one line, and the loop continues.
    """
    report = BatchReport()
    samples = list(samples)
    bar = tqdm(samples, desc=desc, unit="img", disable=not progress, dynamic_ncols=True)
    for sample in bar:
        name = name_of(sample)
        if is_done(sample):
            report.skipped += 1
            continue
        bar.set_postfix_str(name[-40:])
        try:
            process(sample)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # noqa: BLE001 - a batch run logs the bad sample and goes on
            log_error(run_dir, name, exc)
            report.failed += 1
            report.failures.append(name)
            tqdm.write(f"skipped {name}: {exc.__class__.__name__ if not isinstance(exc, ToolkitError) else 'error'}: {exc}")
            continue
        report.done += 1
    return report
