"""Sparseness of a map: the Gini index of its absolute values (Chalasani et al. 2020, "Concise explanations of
neural networks using adversarial training"; Quantus ``Sparseness``). A per-map metric of
:data:`evals.metrics.MAP_METRICS` (``evals.report --scores sparseness``); it reads only the map.

For values x_1 <= ... <= x_n (sorted |map|), ``G = Σ_i (2i - n - 1) x_i / (n Σ_i x_i)``, equal to the mean absolute
difference over all pairs divided by twice the mean. 0: every pixel holds the same attribution; (n - 1) / n: one
pixel holds all of it. An all-zero map gives 0. (Quantus adds 1e-7 to every value first, which moves the score by
about 1e-7 / mean; not done here.)
"""

from __future__ import annotations

from typing import Any

import numpy as np


def gini(values: np.ndarray) -> float:
    """The Gini index of non-negative ``values`` (any shape, flattened); 0 when they sum to 0."""
    x = np.sort(np.asarray(values, dtype=np.float64).ravel())
    total = x.sum()
    if total == 0:
        return 0.0
    n = x.size
    return float(np.dot(2.0 * np.arange(1, n + 1) - n - 1, x) / (n * total))


def sparseness(blackbox: Any, image: Any, saliency: np.ndarray, label: int, *, seed: int = 0,
               batch_size: int = 64) -> float:
    """The Gini index of ``|saliency|`` ``(S, S)`` (the report passes 3-channel maps averaged over the channels, as
    its pixel presets score them; Quantus flattens the channels instead); the model, ``image`` ``(1, 3, S, S)``,
    label, seed and batch size are not used (the :class:`evals.metrics.MapMetric` signature)."""
    return gini(np.abs(saliency))
