"""Peak memory of a block of work, for the benchmark scripts: the RSS high-water mark on Linux (reset per
block through ``/proc/self/clear_refs``), ``ru_maxrss`` where that is impossible, CUDA's allocator peak on GPU."""

from __future__ import annotations

import gc
import re
import resource
from pathlib import Path

import torch


class PeakMemory:
    """Peak memory of a block: RSS high-water mark on Linux (reset per block), or CUDA's allocator peak."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.kind = "cuda max_memory_allocated" if device.type == "cuda" else (
            "VmHWM (reset per method)" if self._can_reset() else "ru_maxrss (process-wide, never reset)")

    @staticmethod
    def _vm(field: str) -> float | None:
        try:
            text = Path("/proc/self/status").read_text()
        except OSError:
            return None
        match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
        return int(match.group(1)) / 1024 if match else None

    def _can_reset(self) -> bool:
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            return False
        return self._vm("VmHWM") is not None

    @staticmethod
    def _release_free_heap() -> None:
        """Give freed heap pages back to the OS (glibc ``malloc_trim``), so the RSS left over by the previous
        method does not count as this method's peak."""
        try:
            import ctypes

            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):
            pass

    def start(self) -> float:
        """Reset the peak; returns the current memory (MB)."""
        gc.collect()
        self._release_free_heap()
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            return torch.cuda.memory_allocated(self.device) / 2**20
        if self.kind.startswith("VmHWM"):
            Path("/proc/self/clear_refs").write_text("5")
            return self._vm("VmRSS") or float("nan")
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def peak(self) -> float:
        """Peak memory (MB) since :meth:`start`."""
        if self.device.type == "cuda":
            return torch.cuda.max_memory_allocated(self.device) / 2**20
        if self.kind.startswith("VmHWM"):
            return self._vm("VmHWM") or float("nan")
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
