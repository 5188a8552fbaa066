"""Saliency (Simonyan et al., 2014) as run by the LA code, spec §3.9: ``A = |grad p_y(x)|``."""

from __future__ import annotations

from torch import Tensor

from .base import AttributionMethod, LocalInfo, Model, RunOptions
from .gradients import batched_class_score_gradients
from .registry import register


@register
class Saliency(AttributionMethod):
    """Vanilla gradient of p_y.

    Attributes:
        abs: return the absolute value (the 2025 code; the 2024 code used the signed gradient).
    """

    info = LocalInfo("sm", "Saliency", panel_label="SM", default_batch_size=64)

    def _attribute(self, model: Model, x: Tensor, y: Tensor, opts: RunOptions) -> Tensor:
        g, _ = batched_class_score_gradients(model, x, y, batch_size=opts.batch_size)
        return g.abs() if self.abs else g
