"""Occlusion (Zeiler & Fergus, ECCV 2014)."""

from __future__ import annotations

import torch

from common.method_contract import MethodInfo
from models.base import BlackBox

from .base import BaselineMethod, fill_value, masked_scores
from .registry import register


def patch_starts(size: int, patch: int, stride: int) -> torch.Tensor:
    """Top/left corners ``0, stride, 2 stride, ...`` until the patches cover the whole side (the last patch may
    stick out and is clipped)."""
    starts = [0]
    while starts[-1] + patch < size:
        starts.append(starts[-1] + stride)
    return torch.tensor(starts)


@register
class Occlusion(BaselineMethod):
    """Occlusion: how much the target probability drops when a square patch is set to ``fill``.

    Patches ``patch_size x patch_size`` every ``stride`` pixels in both directions (44 x 44 = 1936 positions on
    224 px with the SMDL setting 10 / 5). A pixel's value is the mean drop ``f_c(x) - f_c(x with the patch
    occluded)`` over the patches that cover it (Captum's convention; Xplique sums). Output ``(B, S, S)``.
    Cost: 1 + positions forwards per image.

    Args:
        patch_size: side of the occluding square, pixels.
        stride: step between patch positions, pixels.
        fill: what the occluded pixels become: ``black`` (0, Xplique's and Captum's default baseline), ``grey``
            or ``mean`` (the model's normalisation mean colour).
    """

    info = MethodInfo("occlusion", "Occlusion", needs_gradients=False, stochastic=False,
                      model_output="probabilities")

    def _attribute(self, blackbox: BlackBox, images: torch.Tensor, target: torch.Tensor,
                   generator: torch.Generator | None) -> torch.Tensor:
        size = blackbox.input_size
        starts = patch_starts(size, self.patch_size, self.stride).to(images.device)
        top = starts.repeat_interleave(starts.numel())
        left = starts.repeat(starts.numel())
        pixels = torch.arange(size, device=images.device)

        def covered(start: int, end: int) -> torch.Tensor:
            """``(n, S, S)`` True inside patches ``start..end-1``."""
            rows = (pixels >= top[start:end, None]) & (pixels < top[start:end, None] + self.patch_size)
            cols = (pixels >= left[start:end, None]) & (pixels < left[start:end, None] + self.patch_size)
            return rows[:, :, None] & cols[:, None, :]

        n = top.numel()
        counts = torch.zeros(size, size, device=images.device)
        for start in range(0, n, blackbox.batch_size):
            counts += covered(start, min(start + blackbox.batch_size, n)).sum(0)
        full = blackbox.predict(images).gather(1, target[:, None])[:, 0]  # (B,)
        maps = []
        for image, cls, base in zip(images, target.tolist(), full):
            fill = fill_value(self.fill, blackbox, image)
            total = torch.zeros(size, size, device=images.device)

            def accumulate(kept: torch.Tensor, scores: torch.Tensor, base: torch.Tensor = base) -> None:
                nonlocal total
                total += torch.einsum("n,nhw->hw", base - scores, 1.0 - kept[:, 0])

            masked_scores(blackbox, image, cls, n, lambda a, b: (~covered(a, b)).float()[:, None], fill=fill,
                          on_chunk=accumulate)
            maps.append(total / counts.clamp_min(1))
        return torch.stack(maps)
