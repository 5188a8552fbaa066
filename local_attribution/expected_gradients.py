"""Expected Gradients (Erion et al., 2021) as run by the LA code, spec §3.11, with the gather fix.

For sample i with k references r_im drawn uniformly from a background set and t_im ~ U(0, 1):

    A_i = (1/k) sum_m (x_i - r_im) * grad p_{y_i}(r_im + t_im (x_i - r_im))

Background: the ``background`` argument of :meth:`ExpectedGradients.attribute`, else the
``background`` field, else the other images of the batch (the original drew references from the
evaluated image set itself; excluding x_i avoids the zero reference x_i - x_i). A batch of a single
image without background uses the black image (EG then reduces to IG with random points).

Difference from the original code: the original explained classes 0..3 of the first sample of
every batch of 4 and gave the other three all-zero maps (a ``gather_nd`` bug, spec §6.8); here every
sample is explained for its own target.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor

from .base import (
    AttributionMethod,
    LocalInfo,
    Model,
    RunOptions,
    TargetLike,
    sample_generators,
)
from .gradients import path_integral
from .registry import register


@register
class ExpectedGradients(AttributionMethod):
    """Expected Gradients.

    Attributes:
        n_samples: k, references (and random points) per image (the original: 1).
        background: ``(N, 3, H, W)`` reference images in [0, 1] (default: see module doc).
    """

    info = LocalInfo("eg", "Expected Gradients", panel_label="EG", stochastic=True, default_batch_size=4)

    def attribute(self, model: Model, inputs: Tensor, target: TargetLike = None, *,
                  internal_batch_size: int | None = None, generator: torch.Generator | None = None,
                  progress: bool = False, background: Tensor | None = None) -> Tensor:
        """See :meth:`AttributionMethod.attribute` (the contract's signature); ``background`` overrides the field of
        that name. Returns ``(B, 3, H, W)`` float32."""
        bg = self.background if background is None else background
        compute = functools.partial(self._expected_gradients, background=bg)
        out = self._run(compute, model, inputs, target, internal_batch_size, generator, progress)
        return out.detach().to(torch.float32)

    def _attribute(self, model: Model, x: Tensor, y: Tensor, opts: RunOptions) -> Tensor:
        return self._expected_gradients(model, x, y, opts, self.background)

    def _expected_gradients(
        self, model: Model, x: Tensor, y: Tensor, opts: RunOptions, background: Tensor | None
    ) -> Tensor:
        assert opts.generator is not None
        b, k = x.shape[0], self.n_samples
        exclude_self = background is None and b > 1
        if background is None:
            background = x if b > 1 else torch.zeros_like(x)
        background = background.detach().to(device=x.device, dtype=x.dtype)
        if background.ndim != 4 or background.shape[1:] != x.shape[1:] or background.shape[0] == 0:
            raise ValueError(
                f"background must have shape (N, {', '.join(map(str, x.shape[1:]))}), got {tuple(background.shape)}"
            )
        n_bg = background.shape[0] - (1 if exclude_self else 0)
        refs = torch.empty((b, k), dtype=torch.long)
        alphas = torch.empty((b, k), dtype=torch.float64)
        for i, gen in enumerate(sample_generators(opts.generator, b)):
            for m in range(k):
                j = int(torch.randint(n_bg, (), generator=gen))
                refs[i, m] = j + 1 if exclude_self and j >= i else j
                alphas[i, m] = float(torch.rand((), generator=gen, dtype=torch.float64))

        def reference(i: Tensor, m: Tensor) -> Tensor:
            return background[refs[i, m].to(background.device)]

        weights = torch.full((k,), 1.0 / k, dtype=torch.float64)
        return path_integral(
            model, x, y, alphas, weights, reference, batch_size=opts.batch_size, progress=opts.progress, desc="EG"
        )
