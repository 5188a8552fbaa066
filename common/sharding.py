"""Shards from the launchers people use: ``--shard i/n``, torchrun, SLURM tasks and SLURM job arrays.

Which shard this process is, in order of precedence:

1. ``--shard i/n`` (0-based ``i``): explicit, wins over the environment.
2. Otherwise the environment, as a two-level hierarchy: the SLURM job array is the outer level
   (``SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN`` of ``SLURM_ARRAY_TASK_COUNT``), the processes of one job
   the inner level (torchrun's ``RANK``/``WORLD_SIZE``, else ``SLURM_PROCID``/``SLURM_NTASKS``). Shard
   ``outer * inner_count + inner`` of ``outer_count * inner_count``.
3. Nothing set: shard 0 of 1.

A shard is a contiguous block of the selected lines (``--begin/--end`` apply first), ceil(n/N) lines each,
as the original multi-GPU scripts split them. Shards only split the work: workers that share a run folder
also claim samples (:mod:`common.claims`), so overlapping launches never compute a sample twice.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from common.errors import ToolkitError

T = TypeVar("T")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (0-based) and where that came from (``--shard``, ``torchrun``, ...)."""

    index: int = 0
    count: int = 1
    source: str = "none"

    def select(self, items: Sequence[T]) -> list[T]:
        """This shard's contiguous block of ``items``."""
        size = math.ceil(len(items) / self.count) if items else 0
        return list(items[self.index * size:(self.index + 1) * size])

    def __str__(self) -> str:
        return f"{self.index}/{self.count} ({self.source})"


def parse_shard(text: str) -> Shard:
    """``"i/n"`` -> Shard(i, n); one-line error otherwise."""
    parts = str(text).split("/")
    try:
        index, count = (int(p) for p in parts)
    except ValueError:
        raise ToolkitError(f"--shard {text}: expected i/n with integers, e.g. --shard 0/4") from None
    if count < 1 or not 0 <= index < count:
        raise ToolkitError(f"--shard {text}: need n >= 1 and 0 <= i < n (i is 0-based)")
    return Shard(index, count, "--shard")


def _env_pair(env: Mapping[str, str], index_name: str, count_name: str, offset_name: str | None = None) -> tuple[int, int] | None:
    if index_name not in env or count_name not in env:
        return None
    try:
        index = int(env[index_name]) - (int(env.get(offset_name, 0)) if offset_name else 0)
        count = int(env[count_name])
    except ValueError:
        raise ToolkitError(f"{index_name}={env.get(index_name)!r} {count_name}={env.get(count_name)!r}: not integers") from None
    if count < 1 or not 0 <= index < count:
        raise ToolkitError(f"{index_name}={env[index_name]} {count_name}={env[count_name]}: index outside 0..count-1")
    return index, count


def shard_from_env(env: Mapping[str, str] | None = None) -> Shard:
    """The shard the launcher's environment assigns (see the module docstring); 0/1 when none."""
    env = os.environ if env is None else env
    outer = _env_pair(env, "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN")
    inner, inner_source = _env_pair(env, "RANK", "WORLD_SIZE"), "torchrun"
    if inner is None:
        inner, inner_source = _env_pair(env, "SLURM_PROCID", "SLURM_NTASKS"), "slurm"
    sources = [s for s, pair in (("slurm-array", outer), (inner_source, inner)) if pair is not None]
    outer = outer or (0, 1)
    inner = inner or (0, 1)
    return Shard(outer[0] * inner[1] + inner[0], outer[1] * inner[1], "+".join(sources) or "none")


def resolve_shard(flag: str | None, env: Mapping[str, str] | None = None) -> Shard:
    """``--shard`` when given, else :func:`shard_from_env`."""
    return parse_shard(flag) if flag else shard_from_env(env)


def add_scale_arguments(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """The flags every batch entry module shares: ``--shard``, ``--status``, claim timing."""
    group = parser.add_argument_group("scale-out (shards, claims, status)")
    group.add_argument("--shard", default=None, metavar="I/N",
                       help="process shard I of N (0-based) of the selected lines; default from torchrun "
                            "(RANK/WORLD_SIZE) or SLURM (SLURM_PROCID/SLURM_NTASKS, SLURM_ARRAY_TASK_ID/COUNT)")
    group.add_argument("--status", action="store_true",
                       help="print done / failed / claimed / missing counts of the run folder for the eval list, and exit")
    group.add_argument("--heartbeat-seconds", type=float, default=30.0,
                       help="how often a worker refreshes its claims on samples")
    group.add_argument("--stale-seconds", type=float, default=300.0,
                       help="a claim not refreshed for this long belongs to a dead worker and is taken over (a claim "
                            "whose owner ran on this machine and is gone is taken over at once)")
    return group
