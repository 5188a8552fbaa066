"""Claims on samples, so processes sharing a run folder never compute one sample twice.

A claim is ``<run_dir>/.claims/<key>.lock``, created with ``O_CREAT | O_EXCL`` (atomic on local disks and
NFSv3+), holding ``{"owner", "sample", "heartbeat", "host", "boot_id", "pid_ns", "pid", "start_ticks"}``.
The owner's background thread refreshes the file's mtime every ``heartbeat_seconds``. A claim is
*abandoned*, and taken over by the next worker that asks for it, when

* its owner ran on this machine (same host name, kernel boot id and pid namespace) and that process is gone
  (no such pid, a zombie, or the pid now belongs to a process started at another time): at once, or
* its mtime is older than ``stale_seconds`` (owners on other machines, or hung ones): the heartbeat stopped.

Takeover is serialised by a second exclusive file ``<key>.takeover`` (holding the taker's record) so two
workers that both see an abandoned claim cannot both take it; a takeover file left by a worker killed in
that tiny window is itself abandoned by the same rules. A claim is removed when its sample is finished or
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


def _read_text(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """``(state, start time in clock ticks since boot)`` of ``pid`` from ``/proc/<pid>/stat``; None if no such pid."""
    text = _read_text(f"/proc/{pid}/stat")
    if not text:
        return None
    fields = text[text.rfind(")") + 2:].split()  # after "pid (comm) ": state is field 3, starttime field 22
    return fields[0], int(fields[19])


def _pid_namespace() -> str | None:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def machine_identity() -> dict[str, Any]:
    """What makes a pid meaningful: ``{"host", "boot_id", "pid_ns"}`` (the last two None off Linux)."""
    return {"host": socket.gethostname(), "boot_id": _read_text("/proc/sys/kernel/random/boot_id"),
            "pid_ns": _pid_namespace()}


def process_identity() -> dict[str, Any]:
    """This process: :func:`machine_identity` plus ``pid`` and ``start_ticks`` (its start time, guards pid reuse)."""
    stat = _proc_stat(os.getpid())
    return {**machine_identity(), "pid": os.getpid(), "start_ticks": None if stat is None else stat[1]}


def owner_alive(record: dict[str, Any], here: dict[str, Any] | None = None) -> bool | None:
    """Whether the process that wrote claim ``record`` still runs: True / False when it ran on this machine,
    None when that cannot be known here (another machine, or a record without the fields)."""
    here = machine_identity() if here is None else here
    pid = record.get("pid")
    if not isinstance(pid, int) or any(record.get(key) != here[key] for key in ("host", "boot_id", "pid_ns")):
        return None
    if Path("/proc/self/stat").exists():
        stat = _proc_stat(pid)
        if stat is None or stat[0] in ("Z", "X"):  # gone, or a zombie nobody reaped yet
            return False
        start = record.get("start_ticks")
        return start is None or stat[1] == start  # another start time: the pid was reused
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_record(path: Path) -> dict[str, Any] | None:
    """The json record of a claim (or takeover) file; None when missing or not (yet) written."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


class ClaimBoard:
    """Exclusive, heart-beaten claims on samples of one run folder.

    Args:
        run_dir: the run folder shared by the workers.
        heartbeat_seconds: how often a live worker touches its claims.
        stale_seconds: a claim not touched for this long is taken over (keep it well above the heartbeat); a
            claim whose owner ran on this machine and is gone is taken over at once.
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
        self.identity = process_identity()
        self.held: dict[str, Path] = {}
        self.taken_over = 0
        self.takeovers: list[tuple[str, str]] = []  # (sample, previous owner) of each takeover
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
        return json.dumps({"owner": self.owner, "sample": name, "heartbeat": time.time(), **self.identity}).encode()

    def _create(self, path: Path, name: str) -> bool:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as handle:
            handle.write(self._record(name))
        return True

    def is_stale(self, path: Path) -> bool:
        """True when ``path`` has not been touched for ``stale_seconds``."""
        try:
            return time.time() - path.stat().st_mtime > self.stale_seconds
        except FileNotFoundError:
            return False

    def is_abandoned(self, path: Path) -> bool:
        """True when the claim (or takeover) file ``path`` exists and its owner is known dead or went stale."""
        if not path.exists():
            return False
        record = read_record(path)
        if record is not None and record.get("owner") != self.owner and owner_alive(record) is False:
            return True
        return self.is_stale(path)

    def holder(self, name: str) -> str:
        """Who holds the claim on ``name``, for messages: ``host pid 123, heartbeat 4 s ago`` (or ``unknown``)."""
        path = self.path_of(name)
        record = read_record(path)
        if record is None:
            return "unknown"
        try:
            age = f", heartbeat {time.time() - path.stat().st_mtime:.0f} s ago"
        except OSError:
            age = ""
        host, pid = record.get("host"), record.get("pid")
        who = f"{host} pid {pid}" if host is not None else str(record.get("owner"))
        return who + age

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
        if not self.is_abandoned(path):
            return False
        previous = (read_record(path) or {}).get("owner", "unknown")
        guard = path.with_suffix(".takeover")
        if self.is_abandoned(guard):
            guard.unlink(missing_ok=True)
        if not self._create(guard, name):
            return False
        try:
            if path.exists() and not self.is_abandoned(path):
                return False  # refreshed, or taken over and released-and-reclaimed, since we looked
            tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
            tmp.write_bytes(self._record(name))
            os.replace(tmp, path)
            self.taken_over += 1
            self.takeovers.append((name, previous))
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
    """Sample name -> claim record of every claim in ``run_dir``, with ``dead`` (its owner ran on this machine
    and is gone) and ``stale`` (not refreshed for ``stale_seconds``, or dead): a stale claim is taken over by the
    next worker that asks for it."""
    folder = Path(run_dir) / CLAIMS_DIR
    claims: dict[str, dict[str, Any]] = {}
    if not folder.is_dir():
        return claims
    now, here = time.time(), machine_identity()
    for path in folder.glob("*.lock"):
        record = read_record(path)
        try:
            age = now - path.stat().st_mtime
        except OSError:
            continue
        if record is None:
            continue
        record["dead"] = owner_alive(record, here) is False
        record["stale"] = record["dead"] or age > stale_seconds
        claims[record.get("sample", path.stem)] = record
    return claims
