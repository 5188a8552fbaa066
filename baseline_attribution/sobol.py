"""Sobol attribution (Fel et al., NeurIPS 2021), with Xplique's ``SobolAttributionMethod`` defaults."""

from __future__ import annotations

import torch

from common.method_contract import MethodInfo
from models.base import BlackBox

from .base import BaselineMethod, seed_from
from .hsic import grid_design_maps
from .registry import register


def replicated_designs(n_designs: int, dims: int, seed: int) -> torch.Tensor:
    """Saltelli's replicated designs ``(n (d + 2), d)`` in [0, 1]: ``A`` and ``B`` (the two halves of a scrambled
    Sobol sequence of dimension 2d, ``n`` points) followed by ``C_1..C_d`` (``C_i`` = ``A`` with column i from
    ``B``), in that order."""
    from scipy.stats import qmc

    points = torch.from_numpy(qmc.Sobol(2 * dims, scramble=True, seed=seed).random(n_designs)).float()
    a, b = points[:, :dims], points[:, dims:]
    eye = torch.eye(dims)[:, None, :]  # (d, 1, d)
    c = a[None] * (1 - eye) + b[None] * eye  # (d, n, d)
    return torch.cat([a, b, c.reshape(-1, dims)])


def jansen_total_order(outputs: torch.Tensor, n_designs: int, dims: int) -> torch.Tensor:
    """Jansen's estimator of the total Sobol index of each variable, ``(d,)``:
    ``sum_j (f(A)_j - f(C_i)_j)^2 / (2 n Var f(A))`` (unbiased variance), from outputs ordered as
    :func:`replicated_designs`."""
    y = outputs.double()
    a = y[:n_designs]
    c = y[2 * n_designs:].view(dims, n_designs)
    var = a.var(unbiased=True).clamp_min(1e-12)
    return (a[None] - c).pow(2).sum(1) / (2 * n_designs * var)


@register
class SobolAttribution(BaselineMethod):
    """Sobol attribution: total-order Sobol indices of the target probability with respect to real-valued masks
    on a ``grid_size x grid_size`` grid.

    Masks from a scrambled Sobol sequence (randomised quasi-Monte Carlo: the seed picks the scrambling; Xplique's
    default is the unscrambled sequence, which cannot vary with a seed), replicated designs (Saltelli), upsampled
    nearest-neighbour; "inpainting" ``x * M``; Jansen estimator. The ``(g, g)`` indices are resized bicubically
    to ``(B, S, S)``. Cost: ``n_designs * (grid_size^2 + 2)`` forwards per image (32 * 66 = 2112).

    Args:
        grid_size: cells per side (8).
        n_designs: Sobol points per matrix (32; a power of two keeps the sequence balanced).
        fill: what removed cells become (``black`` as Xplique's inpainting, ``grey``, ``mean``).
    """

    info = MethodInfo("sobol", "SobolAttributionMethod", needs_gradients=False, stochastic=True,
                      model_output="probabilities")

    def _attribute(self, blackbox: BlackBox, images: torch.Tensor, target: torch.Tensor,
                   generator: torch.Generator | None) -> torch.Tensor:
        dims = self.grid_size**2
        designs = replicated_designs(self.n_designs, dims, seed_from(generator))
        return grid_design_maps(blackbox, images, target, designs, self.grid_size,
                                lambda scores: jansen_total_order(scores, self.n_designs, dims), self.fill)
