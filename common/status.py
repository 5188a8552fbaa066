"""``--status``: done / failed / claimed / missing counts of a run folder for an eval list.

done: a result written by the folder's settings; claimed: a live worker holds it (claims of dead workers
on this machine and stale claims are counted as missing: the next worker takes them over); failed: logged
in ``errors.jsonl`` and not done since; missing: the rest (never started, or a dead or stale claim).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from common.claims import DEFAULT_STALE_SECONDS, live_claims


def failed_names(run_dir: str | Path) -> set[str]:
    """Sample names logged in ``<run_dir>/errors.jsonl`` (unreadable lines are ignored)."""
    path = Path(run_dir) / "errors.jsonl"
    names: set[str] = set()
    if path.is_file():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                names.add(json.loads(line)["sample"])
            except (ValueError, KeyError, TypeError):
                continue
    return names


def run_status(run_dir: str | Path, samples: Iterable[Any], is_done: Callable[[Any], bool],
               name_of: Callable[[Any], str] = lambda s: s.name,
               stale_seconds: float = DEFAULT_STALE_SECONDS) -> dict[str, Any]:
    """Counts ``{"total", "done", "failed", "claimed", "stale", "missing"}`` plus the names not done (``stale``:
    missing samples whose claim belongs to a dead worker on this machine or was not refreshed for ``stale_seconds``)."""
    claims = live_claims(run_dir, stale_seconds)
    failed = failed_names(run_dir)
    counts = {"total": 0, "done": 0, "failed": 0, "claimed": 0, "stale": 0, "missing": 0}
    not_done: dict[str, list[str]] = {"failed": [], "claimed": [], "missing": []}
    for sample in samples:
        name = name_of(sample)
        counts["total"] += 1
        if is_done(sample):
            counts["done"] += 1
            continue
        claim = claims.get(name)
        if claim is not None and not claim["stale"]:
            kind = "claimed"
        elif name in failed:
            kind = "failed"
        else:
            kind = "missing"
            if claim is not None:
                counts["stale"] += 1
        counts[kind] += 1
        not_done[kind].append(name)
    return {**counts, "names": not_done, "run_dir": str(run_dir)}


def format_status(status: dict[str, Any], limit: int = 10) -> str:
    """``<run_dir>: N samples: done D, failed F, claimed C, missing M (S with the claim of a dead or stale worker)``
    plus a few names."""
    lines = [f"{status['run_dir']}: {status['total']} samples: done {status['done']}, failed {status['failed']}, "
             f"claimed {status['claimed']}, missing {status['missing']}"
             + (f" ({status['stale']} with the claim of a dead or stale worker: the next run takes them over)"
                 if status["stale"] else "")]
    for kind in ("failed", "claimed", "missing"):
        names = status["names"][kind]
        if names:
            more = f" ... (+{len(names) - limit})" if len(names) > limit else ""
            lines.append(f"  {kind}: {', '.join(names[:limit])}{more}")
    return "\n".join(lines)
