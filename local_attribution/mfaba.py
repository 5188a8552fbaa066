"""MFABA (Zhu et al., AAAI 2024), the "SMOOTH" variant run by the LA code, spec §3.2.

A sign-gradient walk that lowers p_y inside an L-inf box of radius ``epsilon``::

    g_k     = grad p_y(x_k)
    x_{k+1} = clip_[0,1](x + clip_[-eps, eps](x_k - alpha * sign(g_k) - x))
    A      += -(x_{k+1} - x_k) * g_k

for at most ``n_steps`` steps; with ``early_stop`` a sample stops as soon as the model's argmax at
x_{k+1} differs from y (it always takes the first step). With the defaults the box is never
reached (50 * 0.001 < 0.3), so A = alpha * sum_k |g_k| (non-negative).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import AttributionMethod, LocalInfo, Model, RunOptions
from .gradients import fill_by_chunks, multi_class_score_gradients
from .registry import register


@register
class MFABA(AttributionMethod):
    """MFABA.

    Attributes:
        epsilon: radius of the L-inf box in [0, 1] units (the original's 0.3 * 255 on a 0-255 scale).
        step_size: alpha, the sign-step length.
        n_steps: maximum number of steps.
        early_stop: stop a sample once its prediction leaves y.
    """

    info = LocalInfo("mfaba", "MFABA", panel_label="MFABA", default_batch_size=64)

    def _attribute(self, model: Model, x: Tensor, y: Tensor, opts: RunOptions) -> Tensor:
        return fill_by_chunks(torch.zeros_like(x), opts.batch_size, lambda sl, bar: self._walk(model, x[sl], y[sl], bar),
                              self.n_steps, "MFABA", opts.progress)

    def _walk(self, model: Model, x0: Tensor, y: Tensor, bar) -> Tensor:
        acc = torch.zeros_like(x0)
        xk = x0.clone()
        active = torch.arange(x0.shape[0], device=x0.device)
        for k in range(self.n_steps):
            (g,), _, logits = multi_class_score_gradients(model, xk[active], (y[active],))
            if self.early_stop and k > 0:
                keep = logits.argmax(dim=1) == y[active]
                active, g = active[keep], g[keep]
                if active.numel() == 0:
                    break
            base, cur = x0[active], xk[active]
            step = (cur - self.step_size * g.sign() - base).clamp(-self.epsilon, self.epsilon)
            x_next = (base + step).clamp(self.clip_min, self.clip_max)
            acc[active] -= (x_next - cur) * g
            xk[active] = x_next
            bar.update()
        return acc
