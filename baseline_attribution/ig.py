"""Integrated Gradients as a baseline map: :mod:`local_attribution`'s IG reduced over channels."""

from __future__ import annotations

import torch

from common.method_contract import MethodInfo
from models.base import BlackBox

from .base import BaselineMethod
from .registry import register


@register
class IntegratedGradientsMap(BaselineMethod):
    """Integrated Gradients of the target probability with a constant baseline image, averaged over the three
    channels (Xplique's ``reducer="mean"``): ``(B, S, S)``, signed.

    Runs :class:`local_attribution.ig.IntegratedGradients` (Captum's ``riemann_trapezoid`` rule) through the
    black box's counted differentiable classifier. Cost: ``n_steps`` forwards + backwards per image (80, the SMDL
    baseline setting ``IntegratedGradients(steps=80)``).

    Args:
        n_steps: path points.
        baseline_value: value of the baseline image (0 = black).
    """

    info = MethodInfo("ig", "IntegratedGradients", needs_gradients=True, stochastic=False,
                      model_output="probabilities")

    def _attribute(self, blackbox: BlackBox, images: torch.Tensor, target: torch.Tensor,
                   generator: torch.Generator | None) -> torch.Tensor:
        from local_attribution import get_method as get_gradient_method

        method = get_gradient_method("ig", n_steps=self.n_steps, baseline_value=self.baseline_value)
        maps = method.attribute(blackbox.differentiable(), images, target, internal_batch_size=blackbox.batch_size)
        return maps.mean(dim=1)
