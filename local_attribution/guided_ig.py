"""Guided Integrated Gradients (Kapishnikov et al., CVPR 2021), spec §3.7.

Our own batched torch float64 version of the algorithm of Google PAIR's ``saliency`` library (which
the LA code calls one image at a time in numpy). From the baseline x' (zeros) towards x, in
``steps`` steps; at step s (alpha = s / steps) the L1 distance to x must shrink to
``l1_total * (1 - alpha)``. Within a step, the gradient g of p_y is taken once at the current
point, then repeatedly:

* features that lag behind ``alpha - max_dist`` (in path coordinates) snap to that position;
* among the features not yet at their upper bound ``alpha + max_dist``, the ``fraction`` with the
  smallest |g| move towards that bound, all the way if that does not close the L1 gap, otherwise
  by the exact share gamma that closes it (which ends the step);
* the attribution gains ``(x_new - x_old) * g``.

Features where x == x' never move. Difference from the original code: the gradient is that of
p_y of one softmax (the original's call-model function applied a second softmax, spec §6.9).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import AttributionMethod, LocalInfo, Model, RunOptions
from .gradients import class_score_gradients, fill_by_chunks
from .registry import register

_TOL = 1e-9  # relative and absolute tolerance of "L1 target reached" (PAIR's EPSILON)


@register
class GuidedIG(AttributionMethod):
    """Guided Integrated Gradients.

    Attributes:
        steps: number of path steps (x_steps of the original).
        fraction: share of the features moved per inner iteration (lowest |gradient| first).
        max_dist: largest allowed distance, in path coordinates, from the nominal alpha.
        baseline_value: constant baseline image value.
    """

    info = LocalInfo("guided_ig", "Guided IG", panel_label="GIG", default_batch_size=1)

    def _attribute(self, model: Model, x: Tensor, y: Tensor, opts: RunOptions) -> Tensor:
        return fill_by_chunks(torch.empty_like(x), opts.batch_size,
                              lambda sl, bar: self._guided_ig(model, x[sl], y[sl], bar).to(x.dtype),
                              self.steps, "Guided IG", opts.progress)

    def _guided_ig(self, model: Model, inputs: Tensor, y: Tensor, bar) -> Tensor:
        """Batched Guided IG of ``inputs`` ``(n, C, H, W)``; float64 result of the same shape."""
        shape, dtype = inputs.shape, inputs.dtype
        n = shape[0]
        x_in = inputs.reshape(n, -1).to(torch.float64)
        x_base = torch.full_like(x_in, self.baseline_value)
        diff = x_in - x_base
        moving = diff != 0
        l1_total = diff.abs().sum(dim=1)
        x = x_base.clone()
        attr = torch.zeros_like(x_in)
        n_feat = x_in.shape[1]
        kth = math.floor(self.fraction * (n_feat - 1)) + 1  # numpy quantile(..., method="lower")
        rows = torch.arange(n, device=x.device)

        for step in range(self.steps):
            grad_actual, _ = class_score_gradients(model, x.to(dtype).view(shape), y)
            grad_actual = grad_actual.reshape(n, -1).to(torch.float64)
            grad = grad_actual.clone()
            alpha = (step + 1.0) / self.steps
            alpha_min, alpha_max = max(alpha - self.max_dist, 0.0), min(alpha + self.max_dist, 1.0)
            x_min = x_base + diff * alpha_min
            x_max = x_base + diff * alpha_max
            l1_target = l1_total * (1.0 - (step + 1) / self.steps)

            active = torch.ones(n, dtype=torch.bool, device=x.device)
            while bool(active.any()):
                x_old = x.clone()
                act = active.view(-1, 1)
                # Path coordinate of every feature; features with x_in == x_base count as done.
                x_alpha = torch.where(moving, (x - x_base) / torch.where(moving, diff, 1.0), alpha_max)
                x = torch.where(act & (x_alpha < alpha_min), x_min, x)
                l1_current = (x - x_in).abs().sum(dim=1)
                reached = (l1_current - l1_target).abs() <= torch.clamp(
                    _TOL * torch.maximum(l1_current.abs(), l1_target.abs()), min=_TOL
                )
                grad = torch.where(x == x_max, math.inf, grad)
                abs_grad = grad.abs()
                threshold = abs_grad.kthvalue(kth, dim=1).values
                moving_now = active & ~reached
                selected = (abs_grad <= threshold.view(-1, 1)) & torch.isfinite(grad) & moving_now.view(-1, 1)
                l1_selected = ((x - x_max).abs() * selected).sum(dim=1)
                gamma = torch.where(
                    l1_selected > 0, (l1_current - l1_target) / l1_selected.clamp_min(1e-300), math.inf
                )
                full = gamma > 1.0
                partial_x = x + (x_max - x) * gamma.clamp(0.0, 1.0).view(-1, 1)
                x = torch.where(selected, torch.where(full.view(-1, 1), x_max, partial_x), x)
                attr[rows[active]] += ((x - x_old) * grad_actual)[active]
                # A row is done when its target is met, when gamma <= 1 closed the gap, or when no
                # movable feature is left (a state PAIR's loop would never leave).
                active = moving_now & full & (l1_selected > 0)
            bar.update()
        return attr.view(shape)
