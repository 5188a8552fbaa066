"""RISE (Petsiuk et al., BMVC 2018)."""

from __future__ import annotations

import math

import torch

from common.method_contract import MethodInfo
from models.base import BlackBox

from .base import BaselineMethod, fill_value, masked_scores
from .registry import register


def bilinear_matrix(n_in: int, n_out: int, edges: str = "clamp", device: torch.device | None = None) -> torch.Tensor:
    """``(n_out, n_in)`` weights of 1-D bilinear upsampling with half-pixel centres: output i reads the input at
    ``u = (i + 0.5) n_in / n_out - 0.5``. Outside ``[0, n_in - 1]`` the missing neighbour is the edge sample
    (``clamp``: ``F.interpolate(align_corners=False)``, Xplique's ``tf.image.resize``) or its mirror image about
    the edge sample (``reflect``: index -1 reads 1, the paper's ``skimage.transform.resize(mode="reflect")``)."""
    u = (torch.arange(n_out, dtype=torch.float64) + 0.5) * n_in / n_out - 0.5
    low = torch.floor(u)
    frac = u - low
    weights = torch.zeros(n_out, n_in, dtype=torch.float64)
    rows = torch.arange(n_out)
    for index, weight in ((low.long(), 1.0 - frac), (low.long() + 1, frac)):
        if edges == "reflect" and n_in > 1:
            index = index.abs()  # -1 -> 1
            index = torch.where(index > n_in - 1, 2 * (n_in - 1) - index, index)
        weights.index_put_((rows, index.clamp(0, n_in - 1)), weight, accumulate=True)
    return weights.float().to(device)


def rise_masks(cells: torch.Tensor, shifts: torch.Tensor, size: int, edges: str = "clamp") -> torch.Tensor:
    """Smooth RISE masks ``(N, 1, size, size)`` from binary grids ``cells`` ``(N, s, s)`` and integer shifts
    ``(N, 2)`` in ``[0, C)``: each grid is upsampled bilinearly to ``(s + 1) C`` (``C = ceil(size / s)``; border
    handling ``edges``, see :func:`bilinear_matrix`) and cropped at its shift (the paper's random translation)."""
    n, grid = cells.shape[0], cells.shape[1]
    cell = math.ceil(size / grid)
    weights = bilinear_matrix(grid, (grid + 1) * cell, edges, cells.device)  # (U, s)
    up = weights @ cells.float() @ weights.T  # (N, U, U)
    rows = shifts[:, 0, None] + torch.arange(size, device=cells.device)  # (N, size)
    cols = shifts[:, 1, None] + torch.arange(size, device=cells.device)
    batch = torch.arange(n, device=cells.device)[:, None, None]
    return up[batch, rows[:, :, None], cols[:, None, :]][:, None]


@register
class Rise(BaselineMethod):
    """RISE: the average of random smooth masks weighted by the target probability of the masked image.

    ``n_masks`` binary ``grid_size x grid_size`` grids with cells kept with probability ``p_keep``, upsampled
    bilinearly and randomly shifted (:func:`rise_masks`); the perturbed image is ``x * M + fill * (1 - M)``. Map
    ``sum_i f_c(x * M_i) M_i / (n_masks * p_keep)`` (the paper's Monte-Carlo estimate, ``normalize="expectation"``)
    or divided by ``sum_i M_i`` per pixel (Xplique's, ``normalize="mask_sum"``). Output ``(B, S, S)`` >= 0.
    The masks are shared by the images of one call. Cost: ``n_masks`` forwards per image (4000: Xplique's
    default and the SMDL baseline setting; the paper used 8000 for ResNet-50).

    Args:
        n_masks: number of random masks N.
        grid_size: s, cells per side of the low-resolution grid.
        p_keep: probability a cell is kept.
        normalize: ``"expectation"`` or ``"mask_sum"``.
        fill: what masked pixels become: ``"black"`` (default: Xplique's ``mask_value=0`` on [0, 1] images, the
            SMDL baseline setting), ``"mean"`` (the model's normalisation mean colour: 0 after normalisation, what
            the paper's code fills) or ``"grey"``.
        edges: the upsampling's border handling, ``"clamp"`` (default, Xplique / torch) or ``"reflect"`` (the
            paper's code). ``fill="mean", edges="reflect"`` is the paper's RISE.
    """

    info = MethodInfo("rise", "Rise", needs_gradients=False, stochastic=True, model_output="probabilities")

    def _attribute(self, blackbox: BlackBox, images: torch.Tensor, target: torch.Tensor,
                   generator: torch.Generator | None) -> torch.Tensor:
        size = blackbox.input_size
        cell = math.ceil(size / self.grid_size)
        cells = (torch.rand(self.n_masks, self.grid_size, self.grid_size, generator=generator) < self.p_keep).float()
        shifts = torch.randint(0, cell, (self.n_masks, 2), generator=generator)
        cells, shifts = cells.to(images.device), shifts.to(images.device)

        def masks(start: int, end: int) -> torch.Tensor:
            return rise_masks(cells[start:end], shifts[start:end], size, self.edges)

        maps = []
        for image, cls in zip(images, target.tolist()):
            total = torch.zeros(size, size, device=images.device)
            coverage = torch.zeros(size, size, device=images.device)

            def accumulate(chunk: torch.Tensor, scores: torch.Tensor) -> None:
                nonlocal total, coverage
                total += torch.einsum("n,nhw->hw", scores, chunk[:, 0])
                coverage += chunk[:, 0].sum(0)

            masked_scores(blackbox, image, cls, self.n_masks, masks, fill=fill_value(self.fill, blackbox, image),
                          on_chunk=accumulate)
            denom = coverage.clamp_min(1e-12) if self.normalize == "mask_sum" else self.n_masks * self.p_keep
            maps.append(total / denom)
        return torch.stack(maps)
