"""The heap set-up of :mod:`common.memory`: it keeps large freed buffers in the heap, runs once, can be turned off."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import common.memory as memory

ROOT = Path(__file__).resolve().parents[1]

# Allocate a 64 MiB buffer and say whether it lies in the process heap ([heap] of /proc/self/maps) or in a
# mapping of its own (glibc's default for anything above its mmap threshold, which is capped at 32 MiB).
_WHERE = """
import sys, numpy as np
sys.path.insert(0, {root!r})
from common.memory import configure_allocator
state = configure_allocator()
buffer = np.ones(16 * 1024 * 1024, dtype=np.float32)
address = buffer.ctypes.data
for line in open("/proc/self/maps"):
    if line.rstrip().endswith("[heap]"):
        low, high = (int(part, 16) for part in line.split()[0].split("-"))
        print(state, low <= address < high)
        break
else:
    print(state, False)
"""


def _where(setting: str) -> tuple[str, bool]:
    env = {**os.environ, memory.ENV_VAR: setting}
    out = subprocess.run([sys.executable, "-c", _WHERE.format(root=str(ROOT))], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    return out[0], out[1] == "True"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc heap set-up")
def test_large_buffers_come_from_the_heap_unless_turned_off():
    state_on, in_heap_on = _where("on")
    state_off, in_heap_off = _where("off")
    assert state_off == "disabled"
    assert not in_heap_off  # glibc default: a mapping of its own, unmapped again on free
    if state_on == "unsupported":
        pytest.skip("not glibc")
    assert state_on == "configured"
    assert in_heap_on  # reused by the next allocation instead of being mapped and faulted in again


def test_configure_runs_once(monkeypatch):
    calls = []
    monkeypatch.setattr(memory, "_state", None)
    monkeypatch.setattr(memory, "_mallopt", lambda param, value: calls.append(param) or True)
    monkeypatch.setattr(memory.platform, "system", lambda: "Linux")
    monkeypatch.setattr(memory.platform, "libc_ver", lambda: ("glibc", "2.36"))
    monkeypatch.setenv(memory.ENV_VAR, "on")
    assert memory.configure_allocator() == "configured"
    assert memory.configure_allocator() == "configured"
    assert len(calls) == 2  # two mallopt parameters, set by the first call only
    assert memory.allocator_state() == "configured"


def test_environment_turns_it_off(monkeypatch):
    monkeypatch.setattr(memory, "_state", None)
    monkeypatch.setattr(memory, "_mallopt", lambda param, value: pytest.fail("mallopt called while disabled"))
    monkeypatch.setenv(memory.ENV_VAR, "off")
    assert memory.configure_allocator() == "disabled"


def test_model_loading_applies_it(monkeypatch):
    from models import registry

    monkeypatch.setattr(memory, "_state", None)
    monkeypatch.setenv(memory.ENV_VAR, "off")
    registry.load_classifier("efficientnet_lite0", pretrained=False)
    assert memory.allocator_state() == "disabled"
