"""Integrated Gradients (Sundararajan et al., 2017) as run by the LA code, spec §3.4.

``A = (x - x') * sum_j w_j grad p_y(x' + alpha_j (x - x'))`` with the zero baseline x' = 0 and
Captum's ``riemann_trapezoid`` rule (alpha_j = linspace(0, 1, n), w_j = 1/n with halved ends, so
the weights sum to 1 - 1/n). p = softmax of the logits (the original used a Softmax-terminated
model, which is the same thing).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import AttributionMethod, LocalInfo, Model, RunOptions
from .gradients import integration_rule, path_integral
from .registry import register


@register
class IntegratedGradients(AttributionMethod):
    """Integrated Gradients.

    Attributes:
        n_steps: number of path points.
        method: quadrature rule (``riemann_trapezoid`` as the original, or ``riemann_left``,
            ``riemann_right``, ``riemann_middle``, ``gausslegendre``).
        baseline_value: constant baseline image value.
    """

    info = LocalInfo("ig", "IG", panel_label="IG", default_batch_size=4)

    def _attribute(self, model: Model, x: Tensor, y: Tensor, opts: RunOptions) -> Tensor:
        alphas, weights = integration_rule(self.n_steps, self.method)
        baseline = torch.full_like(x, self.baseline_value)
        return path_integral(
            model, x, y, alphas, weights, baseline, batch_size=opts.batch_size, progress=opts.progress, desc="IG"
        )
