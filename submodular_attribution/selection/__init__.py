"""Selectors behind one registry: ``get_selector("greedy")``. A new selector is one file here (a
:class:`~.base.Selector` subclass with its ``options`` and ``@register_selector``) plus its name in the import
below. Importing this package does not import torch."""

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
    selector_class,
)
from submodular_attribution.selection.greedy import GreedySelector

__all__ = ["SELECTORS", "Selection", "Selector", "get_selector", "register_selector", "selector_class", "GreedySelector"]
