"""Run identity: which settings produced a run folder, recorded once, checked on every later run and sample.

A run folder's ``config.json`` holds ``identity`` (the settings that change results: model, weights-file
hash, dataset root, division and its parameters, lambdas, selector, fill, output format, result format
version), ``identity_key`` (a short hash of it), ``toolkit_version`` and the other flags of the first run.
It is written once, with an exclusive create (two workers starting together cannot both write it). A later
run into the folder with other identity settings is refused with one line naming each differing setting.
Every result json also stores ``identity_key``; resume skips only samples whose json carries the run's key.

Why refuse instead of encoding every setting in the folder name: the folder layout stays the original's
(``<division>-<λ1>-<λ2>-<λ3>-<λ4>``, which the evals and the original scripts read), and a user who points a
new model at an old folder learns it at once instead of finding a second, differently named folder later.
The toolkit version is recorded but not compared: a patch release must not invalidate a 5,000-image run;
a change of what results mean bumps the result format version, which is part of the identity.

Usage from any batch entry module::

    identity = RunIdentity.from_settings({"model": ..., "weights_sha256": file_sha256(path), ...})
    bind_run_folder(run_dir, identity, extra={"batch_size": 32})   # refuses on a mismatch
    ...  json_data["identity_key"] = identity.key; resume with result_matches(json_path, identity.key)
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.errors import ToolkitError

CONFIG_NAME = "config.json"
IDENTITY_FIELD = "identity_key"


def toolkit_version() -> str:
    """The installed toolkit's version (``pyproject.toml``), or ``unknown`` when not installed."""
    from importlib import metadata

    for name in ("region-attribution", "region_attribution"):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    if pyproject.is_file():
        for line in pyproject.read_text().splitlines():
            if line.strip().startswith("version"):
                return line.split("=", 1)[1].strip().strip('"')
    return "unknown"


_HASH_CACHE: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | Path | None) -> str | None:
    """sha256 of a file's bytes (None for None); cached per (path, size, mtime) within the process."""
    if path is None:
        return None
    path = Path(path)
    if not path.is_file():
        return None
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _HASH_CACHE:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _HASH_CACHE[key] = digest.hexdigest()
    return _HASH_CACHE[key]


def _canonical(value: Any) -> Any:
    """Settings as plain, order-independent json (tuples -> lists, floats kept exact)."""
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


@dataclass(frozen=True)
class RunIdentity:
    """The settings that change a run's results, and their short hash ``key`` (16 hex digits)."""

    settings: dict[str, Any]
    key: str

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> RunIdentity:
        canonical = _canonical(settings)
        text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
        return cls(canonical, hashlib.sha256(text.encode()).hexdigest()[:16])


def differing_settings(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """``name: recorded -> current`` for each setting whose value differs (missing counts as differing)."""
    names = sorted(set(recorded) | set(current))
    return [f"{name}: {recorded.get(name)!r} -> {current.get(name)!r}" for name in names if recorded.get(name) != current.get(name)]


def bind_run_folder(run_dir: str | Path, identity: RunIdentity, extra: dict[str, Any] | None = None,
                    flag: str = "--save-dir") -> Path:
    """Record ``identity`` in ``<run_dir>/config.json`` if the folder has no record; refuse if it has another.

    ``extra`` (flags that do not change results: batch size, device, ...) is stored with the first record
    only. Returns the config path.

    Raises:
        ToolkitError: the folder holds results of other settings (the message names each one), or its
            ``config.json`` is unreadable.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / CONFIG_NAME
    record = {
        "identity": identity.settings,
        IDENTITY_FIELD: identity.key,
        "toolkit_version": toolkit_version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "settings": _canonical(extra or {}),
    }
    text = json.dumps(record, indent=4)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        _check_record(path, identity, flag)
        return path
    # Written through a temp file first would lose the exclusive create; a reader that sees a partly written
    # file retries (see _check_record), and the record is small enough to go out in one write.
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return path


def _check_record(path: Path, identity: RunIdentity, flag: str) -> None:
    stored: dict[str, Any] | None = None
    for _ in range(20):  # another worker may be writing it right now
        try:
            stored = json.loads(path.read_text())
            break
        except (json.JSONDecodeError, OSError):
            time.sleep(0.05)
    if stored is None:
        raise ToolkitError(f"{path}: unreadable run record; delete it only if the folder's results are yours to redo")
    recorded = stored.get("identity")
    if recorded is None:
        raise ToolkitError(f"{flag} {path.parent}: holds a run of an older toolkit without a run identity "
                           f"({path}); use a new {flag}")
    if stored.get(IDENTITY_FIELD) == identity.key and recorded == identity.settings:
        return
    diff = differing_settings(recorded, identity.settings)
    raise ToolkitError(f"{flag} {path.parent} holds results of other settings ({'; '.join(diff)}); use another "
                       f"{flag} (e.g. with {{model}} in it) or the folder's settings")


def result_matches(json_path: str | Path, key: str) -> bool:
    """True when ``json_path`` is a complete result json written under identity ``key`` (resume test)."""
    try:
        with open(json_path, encoding="utf-8") as handle:
            return json.load(handle).get(IDENTITY_FIELD) == key
    except (OSError, ValueError, AttributeError):
        return False
