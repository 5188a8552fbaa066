"""MuFidelity (Bhatt et al. 2020, definition 3) of dense ``H x W`` maps, as Xplique computes it
(specs/ecosystem.md §B.3, specs/smdl.md §5.4).

For each image x with map φ and class y, T random grid masks m_t (1 = kept) are drawn once (shared by every
image, as Xplique does), upsampled nearest-neighbour from ``g x g`` to ``H x W``:

* ``x'_t = x·m_t + (1 - m_t)·b`` with b the baseline value (0 = black);
* ``Δ_t = p_y(x) - p_y(x'_t)`` (softmax probability) and ``A_t = Σ φ·(1 - m_t)`` (attribution removed);
* score(x) = correlation(Δ, A) over t (Spearman in Xplique, Pearson optional); NaN (a constant Δ or A) -> 0.

The metric is the mean score over images (higher is better). ``subset_sampling="bernoulli"``: a cell is
removed when u ~ U(0, 1) <= subset_percent (spec §B.3: the count is random, 20 % on average); ``"exact"``:
exactly ``int(g²·subset_percent)`` cells (the idea of Xplique's older ``argsort > subset_size``, which removed
one cell more than it meant to).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from common.errors import ToolkitError
from evals.causal import _check_inputs
from evals.metrics import mean_over_images
from evals.presets import MUFIDELITY_PRESETS, MuFidelityConfig, get_mufidelity_preset  # noqa: F401


def nearest_upsample_index(grid: int, size: int) -> Tensor:
    """Source cell of each of ``size`` output rows for nearest resizing ``grid -> size`` (half-pixel centres,
    as ``tf.image.resize(method="nearest")``): int64 ``(size,)``."""
    src = torch.floor((torch.arange(size, dtype=torch.float64) + 0.5) * grid / size).long()
    return src.clamp(max=grid - 1)


def draw_masks(config: MuFidelityConfig, height: int, width: int, generator: torch.Generator | None = None) -> Tensor:
    """The T kept-masks ``(T, H, W)`` float (1 = kept, 0 = set to the baseline)."""
    if config.nb_samples < 2:
        raise ToolkitError(f"MuFidelity needs nb_samples >= 2 for a correlation, got {config.nb_samples}")
    if not 0.0 < config.subset_percent < 1.0:
        raise ToolkitError(f"MuFidelity subset_percent must be in (0, 1), got {config.subset_percent}")
    grid = config.grid_size or height
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    u = torch.rand(config.nb_samples, grid * grid, generator=generator, dtype=torch.float64)
    if config.subset_sampling == "bernoulli":
        kept = u > config.subset_percent
    elif config.subset_sampling == "exact":
        removed = int(grid * grid * config.subset_percent)
        kept = torch.argsort(u, dim=1).argsort(dim=1) >= removed
    else:
        raise ToolkitError(f"MuFidelity subset_sampling must be bernoulli or exact, got {config.subset_sampling!r}")
    cells = kept.view(-1, grid, grid).float()
    rows, cols = nearest_upsample_index(grid, height), nearest_upsample_index(grid, width)
    return cells[:, rows][:, :, cols]


def correlation(a: np.ndarray, b: np.ndarray, kind: str) -> float:
    """Spearman (average ranks for ties) or Pearson correlation of two vectors; NaN (constant input) -> 0."""
    from scipy.stats import pearsonr, rankdata

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if kind == "spearman":
        a, b = rankdata(a), rankdata(b)
    elif kind != "pearson":
        raise ToolkitError(f"MuFidelity correlation must be spearman or pearson, got {kind!r}")
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    value = float(pearsonr(a, b)[0])
    return 0.0 if np.isnan(value) else value


@dataclass
class MuFidelityResult:
    """Per-image scores ``(N,)``, drops Δ and removed attribution A ``(N, T)``."""

    config: MuFidelityConfig
    scores: np.ndarray
    score_drops: np.ndarray
    removed_attribution: np.ndarray

    score = property(lambda self: mean_over_images(self.scores),
                     doc="Mean correlation over the images (higher is better); NaN for none.")


def mufidelity(
    blackbox: Any,
    images: Tensor,
    maps: Tensor,
    targets: Any,
    config: str | MuFidelityConfig = "smdl_clip",
    generator: torch.Generator | None = None,
    batch_size: int = 64,
) -> MuFidelityResult:
    """MuFidelity of ``(N, H, W)`` maps for images ``(N, 3, H, W)`` in [0, 1] and classes ``targets (N,)``.

    ``batch_size`` = (image, mask) pairs built and forwarded at once; it does not change the result. The masks
    come from ``generator`` (default: seeded with 0), so the same seed gives the same score.
    """
    config = get_mufidelity_preset(config) if isinstance(config, str) else config
    images, maps = _check_inputs(images, maps)
    if batch_size < 1:
        raise ToolkitError(f"--batch-size must be >= 1, got {batch_size}")
    device = getattr(blackbox, "device", images.device)
    n_images, _, height, width = images.shape
    masks = draw_masks(config, height, width, generator).to(device)  # (T, H, W)
    x = images.to(device)
    cls = torch.as_tensor(np.asarray(targets), dtype=torch.long, device=device).view(-1)
    base = blackbox.predict(x)[torch.arange(n_images, device=device), cls].double()
    removed_attr = torch.einsum("nhw,thw->nt", maps.to(device).double(), 1.0 - masks.double())
    n_masks = masks.shape[0]
    drops = torch.zeros(n_images, n_masks, dtype=torch.float64, device=device)
    pairs = n_images * n_masks
    for p0 in range(0, pairs, batch_size):
        p = torch.arange(p0, min(p0 + batch_size, pairs), device=device)
        img, t = p // n_masks, p % n_masks
        kept = masks[t].unsqueeze(1)
        degraded = x[img] * kept + (1.0 - kept) * config.baseline
        probs = blackbox.predict(degraded)[torch.arange(p.numel(), device=device), cls[img]].double()
        drops[img, t] = base[img] - probs
    drops_np, attr_np = drops.cpu().numpy(), removed_attr.cpu().numpy()
    scores = np.array([correlation(drops_np[i], attr_np[i], config.correlation) for i in range(n_images)])
    return MuFidelityResult(config, scores, drops_np, attr_np)
