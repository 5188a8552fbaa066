"""Insertion / Deletion AUC of dense ``(3, H, W)`` attribution maps, exactly LA's protocol (specs/la.md §4).

For one image x (float ``(3, H, W)`` in [0, 1]) and its attribution A (same shape):

* **Scored class** c = argmax p(x), the prediction on the clean image (not the label); the score of an
  image x' is the softmax probability p_c(x').
* **Order**: the 3·H·W *elements* (not pixels) are ranked by descending signed value of A. Ties (equal
  values, e.g. all-zero regions) are broken by the flat index in C-order ``(channel, row, column)``,
  lowest first (a stable sort). The original used numpy's unstable argsort then a flip, so its tie order
  is unspecified; only maps with ties can differ.
* **Steps**: ``step`` = 224 pixels per step -> n_steps = ceil(H·W / step) (= 224 at 224x224); every step
  changes the next 3·step = 672 ranked elements (the last step whatever is left); n_steps + 1 = 225 points.
* **Substrate**: zeros (black in [0, 1] space) for both games. Insertion starts at the substrate and copies
  ranked elements of x into it; deletion starts at x and overwrites ranked elements with the substrate.
  Point i of a curve is the score after i steps: elements with rank < min(3·step·i, 3·H·W) are changed.
* **AUC**: normalised trapezoid ``(sum(s) - s_0/2 - s_n/2) / n_steps`` on the curve averaged over images,
  equal to the mean of the per-image AUCs. Insertion: higher is better; deletion: lower is better.

Implementation: LA's call signature over the one engine, :func:`evals.causal.play_games` with the ``la``
preset (``get_preset("la", pixels_per_step=step)``), which returns a :class:`evals.causal.CausalResult`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import Tensor

from common.errors import ToolkitError
from evals.causal import (
    CausalResult,
    element_ranks,
    get_preset,
    normalised_auc,
    num_steps,
    pixel_thresholds,
    play_games,
    probability_fn,
)

ArrayLike = Tensor | np.ndarray

__all__ = ["insertion_deletion", "step_thresholds", "num_steps", "element_ranks", "normalised_auc",
           "probability_fn"]


def step_thresholds(channels: int, height: int, width: int, step: int = 224) -> Tensor:
    """Number of changed elements at each of the n_steps + 1 points: ``min(C·step·i, C·H·W)``, int64 ``(n+1,)``."""
    return channels * pixel_thresholds(get_preset("la", pixels_per_step=step), height * width)


def insertion_deletion(
    model: Any,
    images: ArrayLike,
    attributions: ArrayLike,
    *,
    step: int = 224,
    batch_size: int = 100,
    substrate: str | Tensor = "zeros",
    target: ArrayLike | None = None,
    image_group: int = 16,
    progress: bool = False,
) -> CausalResult:
    """LA's Insertion and Deletion games for N images (see the module docstring for the protocol).

    Args:
        model: a :class:`models.BlackBox` (probabilities via ``predict``) or a logits model
            ``(B, 3, H, W) -> (B, C)`` whose softmax is taken.
        images: ``(N, 3, H, W)`` float in [0, 1] (tensor or numpy, e.g. a memory map).
        attributions: ``(N, 3, H, W)`` signed maps, same shape as ``images``.
        step: pixels per step; each step changes ``3 * step`` elements (LA: 224).
        batch_size: (image, step) pairs per forward call (does not change the result).
        substrate: ``"zeros"`` (LA) or a tensor broadcastable to ``(N, 3, H, W)`` (e.g. a per-model baseline).
        target: optional ``(N,)`` classes to score instead of the clean prediction.
        image_group: images whose rank tensors are held at once (memory vs. fewer partial chunks).
        progress: show a progress bar over forward passes.

    Returns:
        :class:`evals.causal.CausalResult` (``insertion_auc``, ``insertion_curve`` (mean), ``insertion_aucs``,
        ``insertion_curves``, the same for deletion, ``targets``, ``x``, ``n_steps``).

    Raises:
        ToolkitError: shapes differ, NaN/inf in a map, or a batch size below 1.
    """
    if tuple(images.shape) != tuple(attributions.shape) or len(images.shape) != 4:
        raise ToolkitError(f"images {tuple(images.shape)} and attributions {tuple(attributions.shape)} must both be "
                           "(N, C, H, W) of the same shape")
    if isinstance(substrate, str):
        if substrate != "zeros":
            raise ToolkitError(f"substrate must be 'zeros' or a tensor, got {substrate!r}")
        substrate = None
    return play_games(model, images, attributions, get_preset("la", pixels_per_step=step), target,
                      batch_size=batch_size, image_group=image_group, substrate=substrate, progress=progress)
