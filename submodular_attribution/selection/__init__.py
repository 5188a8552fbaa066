"""Selectors behind one registry: ``get_selector("greedy")``."""

from submodular_attribution.selection import bidirectional, greedy, lazy, stochastic, tail, window  # noqa: F401  (registers)
from submodular_attribution.selection.base import (
    SELECTORS,
    Selection,
    Selector,
    get_selector,
    register_selector,
)
from submodular_attribution.selection.greedy import GreedySelector

__all__ = ["SELECTORS", "Selection", "Selector", "get_selector", "register_selector", "GreedySelector"]
