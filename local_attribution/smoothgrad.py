"""SmoothGrad (Smilkov et al., 2017) as run by the LA code, spec §3.8.

``A = (1/N) sum_n grad p_y(x + xi_n)``, ``xi_n ~ N(0, stdev^2)`` elementwise, with an absolute
standard deviation in [0, 1] pixel units and no clipping (Captum ``NoiseTunnel(Saliency)``,
``nt_type="smoothgrad"``, ``abs=False``). The noise of sample i comes from its own generator,
seeded from ``generator`` (see :func:`smoothgrad_noise`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import AttributionMethod, LocalInfo, Model, RunOptions, progress_bar, sample_generators
from .gradients import add_rows_, chunk_slices, class_score_gradients
from .registry import register


def smoothgrad_noise(generator: torch.Generator, n_samples: int, shape: tuple[int, ...], stdev: float) -> Tensor:
    """``(n_samples, *shape)`` float64 Gaussian noise of one sample, drawn on the CPU."""
    return torch.randn((n_samples, *shape), generator=generator, dtype=torch.float64) * stdev


@register
class SmoothGrad(AttributionMethod):
    """SmoothGrad on the raw gradient of p_y.

    Attributes:
        n_samples: noisy copies per image.
        stdev: noise standard deviation in [0, 1] pixel units (absolute, not relative to the range).
    """

    info = LocalInfo("sg", "SmoothGrad", panel_label="SG", stochastic=True, default_batch_size=4)

    def _attribute(self, model: Model, x: Tensor, y: Tensor, opts: RunOptions) -> Tensor:
        assert opts.generator is not None
        gens = sample_generators(opts.generator, x.shape[0])
        m = self.n_samples
        out = torch.zeros_like(x)
        # Groups of whole samples so the noise held in memory stays ~ batch_size images.
        groups = chunk_slices(x.shape[0], max(1, opts.batch_size // m))
        bar = progress_bar(len(groups), "SmoothGrad", opts.progress)
        for grp in groups:
            idx = range(grp.start, grp.stop)
            noise = torch.cat([smoothgrad_noise(gens[i], m, tuple(x.shape[1:]), self.stdev) for i in idx])
            noisy = x[grp].repeat_interleave(m, dim=0) + noise.to(device=x.device, dtype=x.dtype)
            classes = y[grp].repeat_interleave(m)
            for sl in chunk_slices(noisy.shape[0], opts.batch_size):
                g, _ = class_score_gradients(model, noisy[sl], classes[sl])
                add_rows_(out, torch.arange(sl.start, sl.stop) // m + grp.start, g)
            bar.update()
        bar.close()
        return out / m
