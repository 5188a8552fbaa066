"""Claims on samples, so processes sharing a run folder never compute one sample twice.

A claim is ``<run_dir>/.claims/<key>.lock``, created with ``O_CREAT | O_EXCL`` (atomic on local disks and
NFSv3+), holding ``{"owner", "sample", "heartbeat"}``. The owner's background thread refreshes the file's
mtime every ``heartbeat_seconds``; a claim whose mtime is older than ``stale_seconds`` belongs to a dead
worker and is taken over. Takeover is serialised by a second exclusive file ``<key>.takeover`` so two
workers that both see a stale claim cannot both take it; a takeover file left by a worker killed in that
tiny window is itself stale after ``stale_seconds``. A claim is removed when its sample is finished or
failed (the failure is in ``errors.jsonl``; the next run retries it).

Usage (what :func:`common.results.run_samples` does)::

    with ClaimBoard(run_dir) as board:
        if board.claim(name):          # False: another live worker has it
            try: process(sample)
            finally: board.release(name)
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any

CLAIMS_DIR = ".claims"
DEFAULT_HEARTBEAT_SECONDS = 30.0
DEFAULT_STALE_SECONDS = 300.0


def claim_key(name: str) -> str:
    """File-safe key of a sample name (sha1, 20 hex digits)."""
    return hashlib.sha1(name.encode()).hexdigest()[:20]


def worker_id() -> str:
    """``host:pid:random`` naming this process (the random part survives pid reuse)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class ClaimBoard:
    """Exclusive, heart-beaten claims on samples of one run folder.

    Args:
        run_dir: the run folder shared by the workers.
        heartbeat_seconds: how often a live worker touches its claims.
        stale_seconds: a claim not touched for this long is taken over (keep it well above the heartbeat).
        owner: this worker's id (default :func:`worker_id`).
    """

    def __init__(self, run_dir: str | Path, heartbeat_seconds: float = DEFAULT_HEARTBEAT_SECONDS,
                 stale_seconds: float = DEFAULT_STALE_SECONDS, owner: str | None = None) -> None:
        if not 0 < heartbeat_seconds < stale_seconds:
            raise ValueError(f"need 0 < heartbeat ({heartbeat_seconds}) < stale ({stale_seconds}) seconds")
        self.folder = Path(run_dir) / CLAIMS_DIR
        self.folder.mkdir(parents=True, exist_ok=True)
        self.heartbeat_seconds = heartbeat_seconds
        self.stale_seconds = stale_seconds
        self.owner = owner or worker_id()
        self.held: dict[str, Path] = {}
        self.taken_over = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- context: the heartbeat thread runs while the board is open -----------------------------------
    def __enter__(self) -> ClaimBoard:
        self._thread = threading.Thread(target=self._beat, name="claim-heartbeat", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        for name in list(self.held):
            self.release(name)

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_seconds):
            with self._lock:
                paths = list(self.held.values())
            for path in paths:
                try:
                    os.utime(path)
                except OSError:
                    pass

    # -- claims ----------------------------------------------------------------------------------------
    def path_of(self, name: str) -> Path:
        return self.folder / f"{claim_key(name)}.lock"

    def _record(self, name: str) -> bytes:
        return json.dumps({"owner": self.owner, "sample": name, "heartbeat": time.time()}).encode()

    def _create(self, path: Path, name: str) -> bool:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as handle:
            handle.write(self._record(name))
        return True

    def is_stale(self, path: Path) -> bool:
        try:
            return time.time() - path.stat().st_mtime > self.stale_seconds
        except FileNotFoundError:
            return False

    def claim(self, name: str) -> bool:
        """Claim sample ``name``; True when this worker now holds it (new, or taken over from a dead worker)."""
        path = self.path_of(name)
        if name in self.held and self.owns(name):
            return True
        if self._create(path, name) or self._take_over(path, name):
            with self._lock:
                self.held[name] = path
            return True
        return False

    def _take_over(self, path: Path, name: str) -> bool:
        if not self.is_stale(path):
            return False
        guard = path.with_suffix(".takeover")
        if self.is_stale(guard):
            guard.unlink(missing_ok=True)
        try:
            fd = os.open(guard, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            return False
        os.close(fd)
        try:
            if not self.is_stale(path) and path.exists():
                return False  # refreshed, or taken over and released-and-reclaimed, since we looked
            tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
            tmp.write_bytes(self._record(name))
            os.replace(tmp, path)
            self.taken_over += 1
            return True
        finally:
            guard.unlink(missing_ok=True)

    def owns(self, name: str) -> bool:
        """True when the claim file of ``name`` still names this worker."""
        try:
            return json.loads(self.path_of(name).read_text()).get("owner") == self.owner
        except (OSError, ValueError):
            return False

    def release(self, name: str) -> None:
        """Drop the claim on ``name`` (only if this worker still owns it)."""
        with self._lock:
            path = self.held.pop(name, None)
        if path is not None and self.owns(name):
            path.unlink(missing_ok=True)


def live_claims(run_dir: str | Path, stale_seconds: float = DEFAULT_STALE_SECONDS) -> dict[str, dict[str, Any]]:
    """Sample name -> claim record (``owner``, ``heartbeat``, ``stale``) of every claim in ``run_dir``."""
    folder = Path(run_dir) / CLAIMS_DIR
    claims: dict[str, dict[str, Any]] = {}
    if not folder.is_dir():
        return claims
    now = time.time()
    for path in folder.glob("*.lock"):
        try:
            record = json.loads(path.read_text())
            record["stale"] = now - path.stat().st_mtime > stale_seconds
        except (OSError, ValueError):
            continue
        claims[record.get("sample", path.stem)] = record
    return claims
