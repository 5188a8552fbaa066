"""Selectors turn an objective over region subsets into a ranking of the regions.

A selector is a class with ``name`` and ``select(objective) -> Selection``, registered in :data:`SELECTORS`.
The objective needs only ``num_regions`` and ``score(subsets (B, m) bool) -> TermScores``.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Protocol

import torch

from common.errors import ToolkitError
from submodular_attribution.objective import TERMS, TermScores


class Objective(Protocol):
    num_regions: int

    def score(self, subsets: torch.Tensor) -> TermScores: ...


@dataclass
class Selection:
    """A ranking of all m regions (most important first) and, per ranked prefix, the objective's terms.

    ``curves[name][j]`` is the value of term ``name`` for the first j+1 ranked regions; names are
    confidence, effectiveness, consistency, collaboration and total (F).
    """

    ranking: list[int]
    curves: dict[str, list[float]] = field(default_factory=dict)


class Selector(ABC):
    """Attributes: ``name``; ``description`` (one line for ``--help``); ``stochastic`` (the ranking depends on
    ``seed``); ``exact`` (returns plain greedy's ranking when the objective is modular)."""

    name: str = ""
    description: str = ""
    stochastic: bool = False
    exact: bool = False

    @abstractmethod
    def select(self, objective: Objective) -> Selection:
        """Rank all regions of ``objective``."""


SELECTORS: dict[str, type[Selector]] = {}


def register_selector(cls: type[Selector]) -> type[Selector]:
    SELECTORS[cls.name] = cls
    return cls


def get_selector(name: str, **options) -> Selector:
    """The selector ``name`` built with the ``options`` its constructor takes (others are ignored, so one
    driver can pass every selector flag)."""
    if name not in SELECTORS:
        raise ToolkitError(f"--selector {name}: unknown selector; choose one of {', '.join(SELECTORS)}")
    cls = SELECTORS[name]
    accepted = inspect.signature(cls.__init__).parameters
    return cls(**{key: value for key, value in options.items() if key in accepted})


def new_curves() -> dict[str, list[float]]:
    return {name: [] for name in (*TERMS, "total")}


def prefix_masks(ranking: list[int] | torch.Tensor, lengths: list[int], m: int) -> torch.Tensor:
    """``(len(lengths), m)`` bool: row k keeps the first ``lengths[k]`` regions of ``ranking``."""
    rank_of = torch.empty(m, dtype=torch.long)
    rank_of[torch.as_tensor(list(ranking), dtype=torch.long)] = torch.arange(m)
    return rank_of[None, :] < torch.as_tensor(lengths, dtype=torch.long)[:, None]


def complete_selection(objective: Objective, ranking: list[int], known: dict[int, dict[str, float]]) -> Selection:
    """The :class:`Selection` of ``ranking`` with curves of length m, each point the real score of that prefix.

    ``known[j]`` holds the terms of the first j ranked regions when the search already scored that prefix;
    every other prefix is scored here in one batch (2 forwards each, counted like any other).
    """
    m = objective.num_regions
    if sorted(ranking) != list(range(m)):
        raise ValueError(f"selector returned {ranking}, not a permutation of {m} regions")
    missing = [j for j in range(1, m + 1) if j not in known]
    if missing:
        scores = objective.score(prefix_masks(ranking, missing, m))
        for row, j in enumerate(missing):
            known[j] = scores.at(row)
    curves = new_curves()
    for j in range(1, m + 1):
        for name in curves:
            curves[name].append(known[j][name])
    return Selection(list(ranking), curves)


def extended_subsets(chosen: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """``(len(candidates), m)`` bool: row k is ``chosen`` ``(m,)`` plus region ``candidates[k]``."""
    subsets = chosen.repeat(len(candidates), 1)
    subsets[torch.arange(len(candidates)), candidates] = True
    return subsets


def singleton_scores(objective: Objective) -> TermScores:
    """F({c}) for every region c, reusing the objective's single-region forwards when it made them (m
    forwards instead of 2m)."""
    m = objective.num_regions
    singletons = torch.eye(m, dtype=torch.bool)
    cached = getattr(objective, "singleton_probs", None)
    if cached is not None:
        return objective.score(singletons, kept_probs=cached)
    return objective.score(singletons)


def progress_steps(steps: range, desc: str, show: bool):
    """``steps``, wrapped in a progress bar (unit: region; plain lines in redirected logs) when ``show``."""
    if not show:
        return steps
    from common.progress import progress_bar

    return progress_bar(steps, desc=desc, unit="region", leave=False)
