"""SMDL: attribution by submodular region-subset selection.

``SubmodularExplainer(blackbox, division, lambdas, selector).explain(image, target) -> Explanation``.
Entry modules (``smdl_explanation_*``, ``lima_explanation_*``, ``cli``) run the driver
(:mod:`submodular_attribution.driver`) with a preset of :mod:`submodular_attribution.presets`.
The names load on first use (PEP 562), so an entry module's ``--help`` does not import torch.
"""

from __future__ import annotations

from common.lazy import lazy_exports

_EXPORTS = {
    "Explanation": "submodular_attribution.explainer",
    "SubmodularExplainer": "submodular_attribution.explainer",
    "Lambdas": "submodular_attribution.objective",
    "SubmodularObjective": "submodular_attribution.objective",
    "DIVISIONS": "submodular_attribution.regions",
    "divide": "submodular_attribution.regions",
    "SELECTORS": "submodular_attribution.selection",
    "get_selector": "submodular_attribution.selection",
}

__all__ = list(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS, globals())
