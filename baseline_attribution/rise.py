"""RISE (Petsiuk et al., BMVC 2018)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from common.errors import ToolkitError
from models.base import BlackBox

from .base import BaselineMethod, masked_scores
from .registry import register


def rise_masks(cells: torch.Tensor, shifts: torch.Tensor, size: int) -> torch.Tensor:
    """Smooth RISE masks ``(N, 1, size, size)`` from binary grids ``cells`` ``(N, s, s)`` and integer shifts
    ``(N, 2)`` in ``[0, C)``: each grid is upsampled bilinearly to ``(s + 1) C`` (``C = ceil(size / s)``) and
    cropped at its shift (the paper's random translation)."""
    n, grid = cells.shape[0], cells.shape[1]
    cell = math.ceil(size / grid)
    up = F.interpolate(cells[:, None].float(), size=((grid + 1) * cell,) * 2, mode="bilinear", align_corners=False)[:, 0]
    rows = shifts[:, 0, None] + torch.arange(size, device=cells.device)  # (N, size)
    cols = shifts[:, 1, None] + torch.arange(size, device=cells.device)
    batch = torch.arange(n, device=cells.device)[:, None, None]
    return up[batch, rows[:, :, None], cols[:, None, :]][:, None]


@register
@dataclass
class Rise(BaselineMethod):
    """RISE: the average of random smooth masks weighted by the target probability of the masked image.

    ``n_masks`` binary ``grid_size x grid_size`` grids with cells kept with probability ``p_keep``, upsampled
    bilinearly and randomly shifted (:func:`rise_masks`); masked pixels are 0 (black). Map
    ``sum_i f_c(x * M_i) M_i / (n_masks * p_keep)`` (the paper's Monte-Carlo estimate, ``normalize="expectation"``)
    or divided by ``sum_i M_i`` per pixel (Xplique's, ``normalize="mask_sum"``). Output ``(B, S, S)`` >= 0.
    The masks are shared by the images of one call. Cost: ``n_masks`` forwards per image (4000: Xplique's
    default and the SMDL baseline setting; the paper used 8000 for ResNet-50).

    Args:
        n_masks: number of random masks N.
        grid_size: s, cells per side of the low-resolution grid.
        p_keep: probability a cell is kept.
        normalize: ``"expectation"`` or ``"mask_sum"``.
    """

    n_masks: int = 4000
    grid_size: int = 7
    p_keep: float = 0.5
    normalize: str = "expectation"

    name = "rise"
    display_name = "Rise"
    needs_gradients = False
    stochastic = True
    model_output = "probabilities"

    def _attribute(self, blackbox: BlackBox, images: torch.Tensor, target: torch.Tensor,
                   generator: torch.Generator | None) -> torch.Tensor:
        if self.normalize not in ("expectation", "mask_sum"):
            raise ToolkitError(f"rise normalize={self.normalize!r}: use 'expectation' or 'mask_sum'")
        size = blackbox.input_size
        cell = math.ceil(size / self.grid_size)
        cells = (torch.rand(self.n_masks, self.grid_size, self.grid_size, generator=generator) < self.p_keep).float()
        shifts = torch.randint(0, cell, (self.n_masks, 2), generator=generator)
        cells, shifts = cells.to(images.device), shifts.to(images.device)

        def masks(start: int, end: int) -> torch.Tensor:
            return rise_masks(cells[start:end], shifts[start:end], size)

        maps = []
        for image, cls in zip(images, target.tolist()):
            total = torch.zeros(size, size, device=images.device)
            coverage = torch.zeros(size, size, device=images.device)

            def accumulate(chunk: torch.Tensor, scores: torch.Tensor) -> None:
                nonlocal total, coverage
                total += torch.einsum("n,nhw->hw", scores, chunk[:, 0])
                coverage += chunk[:, 0].sum(0)

            masked_scores(blackbox, image, cls, self.n_masks, masks, on_chunk=accumulate)
            denom = coverage.clamp_min(1e-12) if self.normalize == "mask_sum" else self.n_masks * self.p_keep
            maps.append(total / denom)
        return torch.stack(maps)
