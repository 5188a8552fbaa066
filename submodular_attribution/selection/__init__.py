"""Selectors behind one registry: ``get_selector("greedy")``."""

from submodular_attribution.selection import (  # noqa: F401  (registers)
    bidirectional,
    coarse,
    greedy,
    lazy,
    onesided,
    stochastic,
    surrogate,
    tail,
    window,
)
from submodular_attribution.selection.base import (
    SELECTORS,
    Selection,
    Selector,
    get_selector,
    register_selector,
)
from submodular_attribution.selection.greedy import GreedySelector

__all__ = ["SELECTORS", "Selection", "Selector", "get_selector", "register_selector", "GreedySelector"]
