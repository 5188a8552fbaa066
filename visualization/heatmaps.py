"""Heat-map helpers shared by every figure."""

from __future__ import annotations

import numpy as np


def to_2d(attribution: np.ndarray) -> np.ndarray:
    """``(3, H, W)``, ``(H, W, 3)`` or ``(H, W)`` -> ``(H, W)`` float64 by the mean over channels."""
    arr = np.asarray(attribution, dtype=np.float64)
    if arr.ndim == 3:
        arr = arr.mean(axis=0) if arr.shape[0] in (1, 3) and arr.shape[-1] not in (1, 3) else arr.mean(axis=-1)
    return arr


def percentile_clip(attribution: np.ndarray, low: float = 80.0, high: float = 99.0) -> np.ndarray:
    """LA's grey heat map (``return_hm``): channel mean, clipped to the [low, high] percentiles, scaled to [0, 1]."""
    heat = to_2d(attribution)
    lo, hi = np.percentile(heat, [low, high])
    if hi <= lo:
        return np.zeros_like(heat)
    return (np.clip(heat, lo, hi) - lo) / (hi - lo)


def min_max(heat: np.ndarray) -> np.ndarray:
    """Scale to [0, 1] (constant maps become 0)."""
    heat = np.asarray(heat, dtype=np.float64)
    span = heat.max() - heat.min()
    return (heat - heat.min()) / span if span > 0 else np.zeros_like(heat)


def overlay(image: np.ndarray, heat: np.ndarray, alpha: float = 0.5, cmap: str = "jet") -> np.ndarray:
    """Blend a [0, 1] heat map ``(H, W)`` over an RGB uint8 image ``(H, W, 3)`` (the originals' 0.5/0.5 JET)."""
    import matplotlib

    colours = matplotlib.colormaps[cmap](np.clip(heat, 0, 1))[..., :3] * 255.0
    return np.clip((1 - alpha) * image.astype(np.float64) + alpha * colours, 0, 255).astype(np.uint8)
