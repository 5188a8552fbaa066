"""HSIC-Attribution (Novello, Fel & Vigouroux, NeurIPS 2022), with Xplique's ``HsicAttributionMethod`` defaults."""

from __future__ import annotations

from collections.abc import Callable

import torch

from common.method_contract import MethodInfo
from models.base import BlackBox

from .base import BaselineMethod, fill_value, grid_to_image, masked_scores, resize_maps
from .registry import register


def binary_latin_hypercube(n_designs: int, dims: int, generator: torch.Generator | None) -> torch.Tensor:
    """``(n_designs, dims)`` in {0, 1}: a Latin-hypercube sample of ``[0, 1]^dims`` (each column hits each of the
    n strata once, at a uniform point inside it) rounded to 0/1 (Xplique's binary LHS sampler)."""
    strata = torch.rand(dims, n_designs, generator=generator).argsort(dim=1).T  # a random permutation per column
    jitter = torch.rand(n_designs, dims, generator=generator)
    return torch.round((strata + jitter) / n_designs)


def hsic_binary_scores(designs: torch.Tensor, outputs: torch.Tensor) -> torch.Tensor:
    """HSIC between each binary input variable and the output: ``(d,)`` from ``designs`` ``(n, d)`` in {0, 1} and
    ``outputs`` ``(n,)``, Xplique's ``BinaryEstimator`` (``tr(K_c L_c) / n``).

    Input kernel ``k(a, b) = 1 + 1/2 - (a - b)^2`` (Dirac kernel on {0, 1}); output kernel RBF
    ``exp(-(y - y')^2 / (2 w^2))`` with width ``w`` = the median of the outputs. Since ``L_c = H L H`` has zero
    row and column sums and ``(a - b)^2 = a + b - 2ab`` on {0, 1}, ``tr(K_c L_c) = 2 x^T L_c x``: one quadratic
    form per variable, computed for all of them at once.
    """
    y = outputs.double()
    n = y.numel()
    width = y.median().clamp_min(1e-12)
    gram = torch.exp(-(y[:, None] - y[None, :]).pow(2) / (2 * width**2))
    centred = gram - gram.mean(0, keepdim=True) - gram.mean(1, keepdim=True) + gram.mean()
    x = designs.double()
    return 2.0 * torch.einsum("nd,nm,md->d", x, centred, x) / n


def grid_design_maps(blackbox: BlackBox, images: torch.Tensor, target: torch.Tensor, designs: torch.Tensor,
                     grid_size: int, estimator: Callable[[torch.Tensor], torch.Tensor],
                     fill: str = "black") -> torch.Tensor:
    """Score every image inpainted (``x * M + fill * (1 - M)``, Xplique's "inpainting" for ``fill="black"``) with
    each design ``(N, g*g)`` upsampled nearest-neighbour, estimate one value per cell with
    ``estimator(scores (N,)) -> (g*g,)``, resize the ``(g, g)`` grid bicubically: ``(B, S, S)``. Shared by HSIC and
    Sobol attribution."""
    size = blackbox.input_size
    cells = designs.to(images.device).view(-1, grid_size, grid_size)
    maps = []
    for image, cls in zip(images, target.tolist()):
        scores = masked_scores(blackbox, image, cls, cells.shape[0], lambda a, b: grid_to_image(cells[a:b], size),
                               fill=fill_value(fill, blackbox, image))
        maps.append(estimator(scores).float().view(grid_size, grid_size))
    return resize_maps(torch.stack(maps), size, "bicubic")


@register
class HsicAttribution(BaselineMethod):
    """HSIC-Attribution: the dependence (HSIC) between each grid cell being kept and the target probability.

    ``n_designs`` binary masks on a ``grid_size x grid_size`` grid from a Latin hypercube (the paper's sampler),
    upsampled nearest-neighbour; "inpainting" perturbation ``x * M`` (removed cells ``fill``, black by default as
    Xplique). Estimator:
    :func:`hsic_binary_scores`. The ``(g, g)`` scores are resized bicubically to ``(B, S, S)`` (Xplique's
    ``cv2.INTER_CUBIC``). The designs are shared by the images of one call. Cost: ``n_designs`` forwards per
    image (500).

    Args:
        grid_size: cells per side (8).
        n_designs: number of masks (500).
        fill: what removed cells become (``black``, ``grey``, ``mean``; see :func:`base.fill_value`).
    """

    info = MethodInfo("hsic", "HsicAttributionMethod", needs_gradients=False, stochastic=True,
                      model_output="probabilities")

    def _attribute(self, blackbox: BlackBox, images: torch.Tensor, target: torch.Tensor,
                   generator: torch.Generator | None) -> torch.Tensor:
        designs = binary_latin_hypercube(self.n_designs, self.grid_size**2, generator)
        return grid_design_maps(blackbox, images, target, designs, self.grid_size,
                                lambda scores: hsic_binary_scores(designs.to(scores.device), scores), self.fill)
