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
    claimed_elsewhere: int = 0  # samples another live worker was computing (see common.claims)

    def summary(self) -> str:
        text = f"{self.done} explained, {self.skipped} already done (skipped), {self.failed} failed"
        if self.claimed_elsewhere:
            text += f", {self.claimed_elsewhere} being computed by other workers"
        return text


def log_error(run_dir: str | Path, sample_name: str, exc: BaseException) -> None:
    """Append one line ``{"sample", "error", "traceback", "time"}`` to ``<run_dir>/errors.jsonl``."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    record = {
        "sample": sample_name,
        "error": f"{exc.__class__.__name__}: {exc}",
        "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=5)),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    with open(run_dir / "errors.jsonl", "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")


_DONE, _CLAIMED, _RUN = "done", "claimed", "run"


def run_samples(
    samples: Iterable[Any],
    *,
    run_dir: str | Path,
    is_done: Callable[[Any], bool],
    process: Callable[..., None],
    name_of: Callable[[Any], str] = lambda s: s.name,
    desc: str = "explaining",
    progress: bool = True,
    claims: Any = None,
    prepare: Callable[[Any], Any] | None = None,
    prefetch_depth: int = 0,
) -> BatchReport:
    """The one batch loop: skip finished samples (resume), process the rest, log failures and go on.

    ``process(sample)`` (or ``process(sample, prepare(sample))`` when ``prepare`` is given) must write its
    results atomically; an exception raised for one sample is logged to ``errors.jsonl`` and printed as one
    line on stderr, and the loop continues.

    Args:
        claims: a :class:`common.claims.ClaimBoard` (opened) shared with other workers on ``run_dir``: a
            sample is processed only by the worker that claims it; the claim is released afterwards.
        prepare: per-sample work that needs no model (load, resize, divide); with ``prefetch_depth > 0`` it
            runs on a background thread that many samples ahead (:mod:`common.prefetch`).
    """
    from common.prefetch import prefetch
    from common.progress import log_line, progress_bar

    report = BatchReport()
    samples = list(samples)

    def gate(sample: Any) -> tuple[str, Any, BaseException | None]:
        if is_done(sample):
            return _DONE, None, None
        if claims is not None:
            if not claims.claim(name_of(sample)):
                return _CLAIMED, None, None
            if is_done(sample):  # finished by another worker between our two looks
                claims.release(name_of(sample))
                return _DONE, None, None
        if prepare is None:
            return _RUN, None, None
        try:
            return _RUN, prepare(sample), None
        except Exception as exc:  # noqa: BLE001 - logged per sample by the consumer
            return _RUN, None, exc

    bar = progress_bar(total=len(samples), desc=desc, unit="img", enabled=progress)
    try:
        for sample, gated, gate_error in prefetch(samples, gate, prefetch_depth):
            name = name_of(sample)
            if gate_error is not None:  # is_done or the claim itself failed
                status, prepared, error = _RUN, None, gate_error
            else:
                status, prepared, error = gated
            if status in (_DONE, _CLAIMED):
                report.skipped += status == _DONE
                report.claimed_elsewhere += status == _CLAIMED
                bar.update(1)
                continue
            bar.set_postfix_str(name[-40:])
            try:
                if error is not None:
                    raise error
                process(sample) if prepare is None else process(sample, prepared)
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # noqa: BLE001 - a batch run logs the bad sample and goes on
                log_error(run_dir, name, exc)
                report.failed += 1
                report.failures.append(name)
                kind = "error" if isinstance(exc, ToolkitError) else exc.__class__.__name__
                log_line(f"skipped {name}: {kind}: {exc}")
                continue
            finally:
                if claims is not None:
                    claims.release(name)
                bar.update(1)  # progress counts finished samples (computed, failed), never the one being computed
            report.done += 1
    finally:
        bar.close()
    return report


def report_skipped(skipped: list[dict[str, str]], used: int) -> None:
    """Print each result file an eval left out, and a warning that the means cover fewer files, on stderr."""
    import sys

    for item in skipped:
        print(f"skipped {item['json']}: {item['error']}", file=sys.stderr)
    if skipped:
        print(f"warning: {len(skipped)} result files skipped; the means cover {used} of {used + len(skipped)} "
              "(exit status 1; --allow-skipped to accept)", file=sys.stderr)
