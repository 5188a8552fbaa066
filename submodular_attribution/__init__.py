"""SMDL: attribution by submodular region-subset selection.

``SubmodularExplainer(blackbox, division, lambdas, selector).explain(image, target) -> Explanation``.
Entry modules (``smdl_explanation_*``) are presets of :mod:`submodular_attribution.cli`.
"""

from submodular_attribution.explainer import Explanation, SubmodularExplainer
from submodular_attribution.objective import Lambdas, SubmodularObjective
from submodular_attribution.regions import DIVISIONS, divide
from submodular_attribution.selection import SELECTORS, get_selector

__all__ = [
    "Explanation",
    "SubmodularExplainer",
    "Lambdas",
    "SubmodularObjective",
    "DIVISIONS",
    "divide",
    "SELECTORS",
    "get_selector",
]
