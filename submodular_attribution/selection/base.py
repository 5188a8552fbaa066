"""Selectors turn an objective over region subsets into a ranking of the regions.

A selector is a class with ``name`` and ``select(objective) -> Selection``, registered in :data:`SELECTORS`.
The objective needs only ``num_regions`` and ``score(subsets (B, m) bool) -> TermScores``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Protocol

import torch

from common.errors import ToolkitError
from submodular_attribution.objective import TermScores


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
    name: str = ""
    description: str = ""

    @abstractmethod
    def select(self, objective: Objective) -> Selection:
        """Rank all regions of ``objective``."""


SELECTORS: dict[str, type[Selector]] = {}


def register_selector(cls: type[Selector]) -> type[Selector]:
    SELECTORS[cls.name] = cls
    return cls


def get_selector(name: str, **options) -> Selector:
    try:
        return SELECTORS[name](**options)
    except KeyError:
        raise ToolkitError(f"--selector {name}: unknown selector; choose one of {', '.join(SELECTORS)}") from None
