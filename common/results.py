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
    claimed_elsewhere: int = 0  # left to another live worker (only with wait_for_others=False, see run_samples)
    done_elsewhere: int = 0  # finished by another worker while this one waited for it
    taken_over: int = 0  # claims of dead or stale workers this worker took over

    def summary(self) -> str:
        text = f"{self.done} explained, {self.skipped} already done (skipped), {self.failed} failed"
        if self.done_elsewhere:
            text += f", {self.done_elsewhere} finished by other workers"
        if self.taken_over:
            text += f", {self.taken_over} taken over from dead workers"
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
    wait_for_others: bool = True,
    poll_seconds: float = 1.0,
) -> BatchReport:
    """The one batch loop: skip finished samples (resume), process the rest, log failures and go on.

    ``process(sample)`` (or ``process(sample, prepare(sample))`` when ``prepare`` is given) must write its
    results atomically; an exception raised for one sample is logged to ``errors.jsonl`` and printed as one
    line on stderr, and the loop continues. The progress bar counts finished samples (computed, skipped or
    failed), never the one being computed.

    Args:
        claims: a :class:`common.claims.ClaimBoard` (opened) shared with other workers on ``run_dir``: a
            sample is processed only by the worker that claims it; the claim is released afterwards. Claims
            of dead workers are taken over (:mod:`common.claims`).
        prepare: per-sample work that needs no model (load, resize, divide); with ``prefetch_depth > 0`` it
            runs on a background thread that many samples ahead (:mod:`common.prefetch`).
        wait_for_others: after the pass, wait for the samples other workers held (polling every
            ``poll_seconds``) until each is finished by them, or their claim is abandoned (owner dead or
            stale) and this worker computes it. So a run that returns has every selected sample done or
            failed; with False those samples are left to the other workers (``claimed_elsewhere``).
    """
    from common.prefetch import prefetch
    from common.progress import advance, log_line, progress_bar

    report = BatchReport()
    samples = list(samples)
    taken_before = claims.taken_over if claims is not None else 0

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

    def compute(sample: Any, prepared: Any, error: BaseException | None) -> None:
        name = name_of(sample)
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
        else:
            report.done += 1
        finally:
            if claims is not None:
                claims.release(name)

    held_elsewhere: list[Any] = []
    bar = progress_bar(total=len(samples), desc=desc, unit="img", enabled=progress)
    try:
        for sample, gated, gate_error in prefetch(samples, gate, prefetch_depth):
            status, prepared, error = (_RUN, None, gate_error) if gate_error is not None else gated
            if status == _DONE:
                report.skipped += 1
                advance(bar, computed=False)
            elif status == _CLAIMED:
                held_elsewhere.append(sample)
            else:
                compute(sample, prepared, error)
                advance(bar)
        if held_elsewhere and wait_for_others:
            log_line(f"waiting for {len(held_elsewhere)} samples held by other workers (first: "
                     f"{name_of(held_elsewhere[0])}, {claims.holder(name_of(held_elsewhere[0]))}); a dead worker's "
                     "sample is taken over")
        while held_elsewhere and wait_for_others:
            time.sleep(min(poll_seconds, claims.heartbeat_seconds))
            still_held = []
            for sample in held_elsewhere:
                try:
                    status, prepared, error = gate(sample)
                except Exception as exc:  # noqa: BLE001 - is_done or the claim failed: logged as the sample's error
                    status, prepared, error = _RUN, None, exc
                if status == _CLAIMED:
                    still_held.append(sample)
                elif status == _DONE:
                    report.done_elsewhere += 1
                    advance(bar, computed=False)
                else:
                    compute(sample, prepared, error)
                    advance(bar)
            held_elsewhere = still_held
        report.claimed_elsewhere = len(held_elsewhere)
    finally:
        bar.close()
    if claims is not None:
        report.taken_over = claims.taken_over - taken_before
    return report


def report_skipped(skipped: list[dict[str, str]], used: int) -> None:
    """Print each result file an eval left out, and a warning that the means cover fewer files, on stderr."""
    import sys

    for item in skipped:
        print(f"skipped {item['json']}: {item['error']}", file=sys.stderr)
    if skipped:
        print(f"warning: {len(skipped)} result files skipped; the means cover {used} of {used + len(skipped)} "
              "(exit status 1; --allow-skipped to accept)", file=sys.stderr)
