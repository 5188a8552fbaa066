"""The "prior saliency map + patch" division of the ICLR paper's CUB and face runs (specs/smdl.md §2.2).

A prior saliency map A (any baseline's ``H x W`` map, e.g. HSIC-Attribution or Grad-CAM) orders the cells of a
g x g grid; every n consecutive cells in that order form one region, so region 0 holds the n most salient cells.
Two variants of the original: ``pixel`` (pixels sorted by A, split into equal-count groups) and ``random-patch``
(a plain s x s grid that ignores the prior, the original's ``Partition_by_patch``).
"""

from __future__ import annotations

import cv2
import numpy as np

from common.errors import ToolkitError
from submodular_attribution.regions.base import register_division
from submodular_attribution.regions.grid import grid

PRIOR_MODES = ("patch", "pixel", "random-patch")


def prior_cell_order(prior: np.ndarray, grid_size: int) -> np.ndarray:
    """Cell indices (row-major in the g x g grid) sorted by descending prior saliency; ``(g*g,)`` int.

    The map is resized to g x g with bilinear interpolation (``cv2.resize``), as the original does; ties keep
    row-major order (stable sort).
    """
    cells = cv2.resize(np.asarray(prior, dtype=np.float32), (grid_size, grid_size), interpolation=cv2.INTER_LINEAR)
    return np.argsort(-cells.ravel(), kind="stable")


@register_division(
    "prior",
    "prior saliency map + patch (--prior-dir): g x g cells sorted by the prior, n per region (CUB 10/4, faces 28/8)",
    params=("grid_size", "cells_per_region", "mode", "pixel_groups", "patch_number"),
    sample_inputs=("prior",),
)
def prior_division(
    image: np.ndarray,
    prior: np.ndarray | None = None,
    grid_size: int = 10,
    cells_per_region: int = 4,
    mode: str = "patch",
    pixel_groups: int = 112,
    patch_number: int = 14,
) -> np.ndarray:
    """Label map ``(H, W)`` int32 for ``image`` ``(H, W, 3)``; label 0 = the most salient group.

    Args:
        prior: ``(h, w)`` float saliency map (higher = more important), any size.
        grid_size: g, cells per side (``patch`` mode).
        cells_per_region: n; there are ⌊g²/n⌋ regions. When n does not divide g², the original leaves the
            last g² mod n cells out of every region; here they join the last (least salient) region so the regions
            still cover the image.
        mode: ``patch`` (the default), ``pixel`` (``pixel_groups`` equal-count groups of pixels sorted by the
            prior, resized bilinearly to the image) or ``random-patch`` (a plain ``patch_number`` grid, no prior).
    """
    height, width = image.shape[:2]
    if mode == "random-patch":
        return grid(image, patch_number)
    if prior is None:
        raise ToolkitError("--superpixel-algorithm prior needs a saliency map per image: pass --prior-dir DIR")
    if mode == "pixel":
        resized = cv2.resize(np.asarray(prior, dtype=np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
        order = np.argsort(-resized.ravel(), kind="stable")
        labels = np.empty(height * width, dtype=np.int32)
        group_of_rank = (np.arange(height * width) * pixel_groups) // (height * width)
        labels[order] = group_of_rank
        return labels.reshape(height, width)
    if mode != "patch":
        raise ToolkitError(f"--prior-mode {mode}: choose one of {', '.join(PRIOR_MODES)}")
    num_cells = grid_size * grid_size
    if not 1 <= cells_per_region <= num_cells:
        raise ToolkitError(f"--prior-cells-per-region {cells_per_region}: must be in 1..{num_cells} (grid {grid_size}x{grid_size})")
    num_regions = num_cells // cells_per_region
    region_of_cell = np.empty(num_cells, dtype=np.int32)
    region_of_cell[prior_cell_order(prior, grid_size)] = np.minimum(np.arange(num_cells) // cells_per_region, num_regions - 1)
    # nearest-neighbour upsampling of the g x g cell mask, as cv2.resize(INTER_NEAREST) does
    cell_labels = grid(image, grid_size)
    return region_of_cell[cell_labels]
