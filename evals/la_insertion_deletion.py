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

Implementation: one stable argsort per image gives a rank tensor; the perturbed images for many (image,
step) pairs are built at once with ``rank < threshold`` and ``torch.where``, and forwarded in chunks of
``batch_size`` under ``torch.inference_mode()``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

ArrayLike = Tensor | np.ndarray


def num_steps(height: int, width: int, step: int = 224) -> int:
    """n_steps = ceil(H·W / step) (224 for 224x224 with step 224)."""
    if step < 1:
        raise ValueError(f"step must be >= 1 pixel, got {step}")
    return math.ceil(height * width / step)


def step_thresholds(channels: int, height: int, width: int, step: int = 224) -> Tensor:
    """Number of changed elements at each of the n_steps + 1 points: ``min(C·step·i, C·H·W)``, int64 ``(n+1,)``."""
    n = num_steps(height, width, step)
    return torch.clamp(torch.arange(n + 1, dtype=torch.long) * (channels * step), max=channels * height * width)


def element_ranks(attributions: Tensor) -> Tensor:
    """Rank of every element of each map: 0 = largest signed value, ties by lowest flat index.

    Args:
        attributions: ``(B, C, H, W)`` float.

    Returns:
        int64 ``(B, C, H, W)`` with values 0 .. C·H·W - 1 (a permutation per map).
    """
    if torch.isnan(attributions).any():
        raise ValueError("attributions contain NaN; cannot rank them")
    flat = attributions.reshape(attributions.shape[0], -1)
    order = torch.argsort(flat, dim=1, descending=True, stable=True)
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(flat.shape[1], device=flat.device).expand_as(order))
    return ranks.view(attributions.shape)


def normalised_auc(curves: np.ndarray) -> np.ndarray:
    """Trapezoid AUC on [0, 1] of curves ``(..., n+1)``: ``(sum - first/2 - last/2) / n``."""
    curves = np.asarray(curves, dtype=np.float64)
    n = curves.shape[-1] - 1
    if n < 1:
        raise ValueError("a curve needs at least 2 points")
    return (curves.sum(axis=-1) - curves[..., 0] / 2 - curves[..., -1] / 2) / n


def _model_device(model: Any) -> torch.device:
    if hasattr(model, "device"):
        return torch.device(model.device)
    params = getattr(model, "parameters", None)
    if callable(params):
        first = next(iter(params()), None)
        if first is not None:
            return first.device
    return torch.device("cpu")


def probability_fn(model: Any) -> Callable[[Tensor], Tensor]:
    """``x (B, 3, H, W) in [0, 1] -> probabilities (B, C)`` for a :class:`models.BlackBox` (its ``predict``,
    which counts forwards) or for a logits model (softmax applied here)."""
    if hasattr(model, "predict") and callable(model.predict):
        return lambda x: model.predict(x).float()

    def probs(x: Tensor) -> Tensor:
        logits = model(x)
        # float32 at least; a float64 model (analytic test models) keeps its precision.
        return logits.to(torch.promote_types(logits.dtype, torch.float32)).softmax(dim=-1)

    return probs


def _as_tensor(array: ArrayLike, start: int, stop: int) -> Tensor:
    part = array[start:stop]
    if isinstance(part, np.ndarray):
        part = torch.from_numpy(np.array(part, copy=True))
    return part.float()


def _substrate(substrate: str | Tensor, x: Tensor) -> Tensor:
    if isinstance(substrate, str):
        if substrate != "zeros":
            raise ValueError(f"substrate must be 'zeros' or a tensor, got {substrate!r}")
        return torch.zeros_like(x)
    return torch.as_tensor(substrate, dtype=x.dtype, device=x.device).expand_as(x)


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
) -> dict[str, Any]:
    """LA's Insertion and Deletion games for N images (see the module docstring for the protocol).

    Args:
        model: a :class:`models.BlackBox` (probabilities via ``predict``) or a logits model
            ``(B, 3, H, W) -> (B, C)`` whose softmax is taken.
        images: ``(N, 3, H, W)`` float in [0, 1] (tensor or numpy, e.g. a memory map).
        attributions: ``(N, 3, H, W)`` signed maps, same shape as ``images``.
        step: pixels per step; each step changes ``3 * step`` elements (LA: 224).
        batch_size: images per forward pass (does not change the result).
        substrate: ``"zeros"`` (LA) or a tensor broadcastable to ``(N, 3, H, W)`` (e.g. a per-model baseline).
        target: optional ``(N,)`` classes to score instead of the clean prediction.
        image_group: images whose rank tensors are held at once (memory vs. fewer partial chunks).
        progress: show a tqdm bar over forward passes.

    Returns:
        dict with ``insertion_auc``, ``deletion_auc`` (floats, mean over images), ``insertion_curve``,
        ``deletion_curve`` (``(n_steps+1,)`` mean curves), ``insertion_aucs``, ``deletion_aucs`` (``(N,)``),
        ``insertion_curves``, ``deletion_curves`` (``(N, n_steps+1)``), ``targets`` (``(N,)`` int64),
        ``n_steps`` and ``step``.
    """
    if tuple(images.shape) != tuple(attributions.shape) or len(images.shape) != 4:
        raise ValueError(f"images {tuple(images.shape)} and attributions {tuple(attributions.shape)} must both be "
                         "(N, C, H, W) of the same shape")
    if batch_size < 1 or image_group < 1:
        raise ValueError("batch_size and image_group must be >= 1")
    n_images, channels, height, width = (int(s) for s in images.shape)
    device = _model_device(model)
    probs_of = probability_fn(model)
    thresholds = step_thresholds(channels, height, width, step).to(device)
    n_points = thresholds.numel()
    ins_curves = np.zeros((n_images, n_points), dtype=np.float64)
    del_curves = np.zeros((n_images, n_points), dtype=np.float64)
    targets = np.zeros(n_images, dtype=np.int64)

    bar = None
    if progress:
        from common.progress import progress_bar

        bar = progress_bar(total=2 * n_images * n_points, desc="insertion/deletion", unit="fwd")
    with torch.inference_mode():
        for g0 in range(0, n_images, image_group):
            g1 = min(g0 + image_group, n_images)
            x = _as_tensor(images, g0, g1).to(device)
            ranks = element_ranks(_as_tensor(attributions, g0, g1).to(device))
            sub = _substrate(substrate, x)
            if target is None:
                cls = torch.cat([probs_of(x[i:i + batch_size]).argmax(dim=1) for i in range(0, g1 - g0, batch_size)])
            else:
                cls = torch.as_tensor(np.asarray(target[g0:g1]), dtype=torch.long)
            cls = cls.to(device)
            targets[g0:g1] = cls.cpu().numpy()
            pairs = (g1 - g0) * n_points
            for p0 in range(0, pairs, batch_size):
                p = torch.arange(p0, min(p0 + batch_size, pairs), device=device)
                img, pt = p // n_points, p % n_points
                changed = ranks[img] < thresholds[pt].view(-1, 1, 1, 1)
                rows = torch.arange(p.numel(), device=device)
                ins = probs_of(torch.where(changed, x[img], sub[img]))[rows, cls[img]]
                dele = probs_of(torch.where(changed, sub[img], x[img]))[rows, cls[img]]
                img_np, pt_np = (img + g0).cpu().numpy(), pt.cpu().numpy()
                ins_curves[img_np, pt_np] = ins.double().cpu().numpy()
                del_curves[img_np, pt_np] = dele.double().cpu().numpy()
                if bar is not None:
                    bar.update(2 * p.numel())
    if bar is not None:
        bar.close()
    ins_aucs, del_aucs = normalised_auc(ins_curves), normalised_auc(del_curves)
    return {
        "insertion_auc": float(ins_aucs.mean()) if n_images else float("nan"),
        "deletion_auc": float(del_aucs.mean()) if n_images else float("nan"),
        "insertion_curve": ins_curves.mean(axis=0),
        "deletion_curve": del_curves.mean(axis=0),
        "insertion_aucs": ins_aucs,
        "deletion_aucs": del_aucs,
        "insertion_curves": ins_curves,
        "deletion_curves": del_curves,
        "targets": targets,
        "n_steps": n_points - 1,
        "step": int(step),
    }
