"""Low-precision search: which devices may run the SMDL search's forwards under bfloat16 autocast.

``--search-dtype bf16`` lets a selector take its decisions on bf16 scores (about 1.6x faster per forward on a
CPU with native bf16 instructions) while every saved curve point is re-scored in float32
(:class:`submodular_attribution.explainer.SubmodularExplainer`).

Where bf16 is refused: a CPU without native bf16 dot products (neither the ``avx512_bf16`` nor the
``amx_bf16`` flag in ``/proc/cpuinfo``: Intel before Cooper Lake / Sapphire Rapids, AMD before Zen 4, any
ARM or macOS machine) — oneDNN would emulate bf16 there and run *slower* than float32 — and a CUDA device
without bf16 support (compute capability below 8.0, e.g. T4 or V100, where it is emulated too).
"""

from __future__ import annotations

from pathlib import Path

import torch

from common.errors import ToolkitError

SEARCH_DTYPES = ("fp32", "bf16")
NATIVE_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> set[str]:
    """The CPU feature flags listed in ``cpuinfo`` (empty where the file does not exist: not Linux)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in ("flags", "Features"):
            return set(value.split())
    return set()


def cpu_has_native_bf16(cpuinfo: str | Path = "/proc/cpuinfo") -> bool:
    """True when the CPU has native bf16 instructions and oneDNN (mkldnn) can use them."""
    if not torch.backends.mkldnn.is_available():
        return False
    return bool(cpu_flags(cpuinfo) & set(NATIVE_BF16_CPU_FLAGS))


def check_search_dtype(search_dtype: str, device: torch.device | str) -> None:
    """Refuse a search dtype this device cannot run fast: one line naming ``--search-dtype`` and the fix.

    Raises:
        ToolkitError: unknown dtype, or bf16 on a CPU / CUDA device without native bf16.
    """
    if search_dtype not in SEARCH_DTYPES:
        raise ToolkitError(f"--search-dtype {search_dtype}: choose one of {', '.join(SEARCH_DTYPES)}")
    if search_dtype == "fp32":
        return
    device = torch.device(device)
    if device.type == "cuda":
        if not torch.cuda.is_bf16_supported():
            raise ToolkitError(f"--search-dtype bf16: {device} has no native bfloat16 (compute capability < 8.0); "
                               "use --search-dtype fp32")
    elif device.type != "cpu" or not cpu_has_native_bf16():
        raise ToolkitError(f"--search-dtype bf16: this {device.type.upper()} has no native bfloat16 "
                           f"({' or '.join(NATIVE_BF16_CPU_FLAGS)} flag); it would be slower than fp32, use --search-dtype fp32")


def autocast_dtype(search_dtype: str) -> str | None:
    """The :attr:`models.base.BlackBox.amp` value of a search dtype: ``"bf16"`` or None (float32)."""
    return "bf16" if search_dtype == "bf16" else None
