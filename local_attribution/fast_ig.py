"""Fast IG as run by the LA code, spec §3.6, with the intended sign.

``A = x * grad p_y(x)`` (input times gradient of the single-softmax probability). The original
took the gradient of the cross-entropy of the softmax outputs (a double softmax), which reverses
the sign of the ranking (spec §6.9, §6.10).
"""

from __future__ import annotations

from torch import Tensor

from .base import AttributionMethod, LocalInfo, Model, RunOptions
from .gradients import batched_class_score_gradients
from .registry import register


@register
class FastIG(AttributionMethod):
    """Fast IG (input x gradient of p_y). No hyper-parameters."""

    info = LocalInfo("fast_ig", "Fast IG", panel_label="FIG", default_batch_size=1)

    def _attribute(self, model: Model, x: Tensor, y: Tensor, opts: RunOptions) -> Tensor:
        g, _ = batched_class_score_gradients(model, x, y, batch_size=opts.batch_size)
        return x * g
