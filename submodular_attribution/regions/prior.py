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
from submodular_attribution.selection.options import Option

PRIOR_MODES = ("patch", "pixel", "random-patch")
PRIOR_OPTIONS = (
    Option("grid_size", int, 10, "g: the prior is read on a g x g grid (CUB 10, faces 28)", low=1, flag="--prior-grid-size"),
    Option("cells_per_region", int, 4, "n: grid cells per region, in descending prior order; floor(g*g/n) regions "
           "(CUB 4, faces 8)", low=1, flag="--prior-cells-per-region"),
    Option("mode", str, "patch", "patch: prior-sorted grid cells; pixel: prior-sorted pixels in equal groups; "
           "random-patch: a plain grid, no prior", choices=PRIOR_MODES, flag="--prior-mode"),
    Option("pixel_groups", int, 112, "groups of pixels for --prior-mode pixel", low=1, flag="--pixel-partition-number"),
    Option("patch_number", int, 14, "cells per side for --prior-mode random-patch (CUB 14, faces 28)", low=1,
           flag="--random-patch-number"),
)


def _prior_folder(values: dict) -> str:
    if values["mode"] == "pixel":
        return f"prior-pixel{values['pixel_groups']}"
    if values["mode"] == "random-patch":
        return f"patch{values['patch_number']}x{values['patch_number']}"
    return f"prior{values['grid_size']}x{values['grid_size']}-{values['cells_per_region']}"


def _prior_regions(values: dict, input_size: int) -> int:
    if values["mode"] == "pixel":
        return values["pixel_groups"]
    if values["mode"] == "random-patch":
        return values["patch_number"] ** 2
    return max(1, values["grid_size"] ** 2 // values["cells_per_region"])


def _check_prior(values: dict, input_size: int) -> None:
    cells = values["grid_size"] ** 2
    if values["mode"] == "patch" and values["cells_per_region"] > cells:
        raise ToolkitError(f"--prior-cells-per-region {values['cells_per_region']}: must be in 1..{cells} "
                           f"(grid {values['grid_size']}x{values['grid_size']})")


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
    sample_inputs=("prior",),
    options=PRIOR_OPTIONS, folder=_prior_folder, regions=_prior_regions, check=_check_prior,
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
    num_regions = num_cells // cells_per_region
    region_of_cell = np.empty(num_cells, dtype=np.int32)
    region_of_cell[prior_cell_order(prior, grid_size)] = np.minimum(np.arange(num_cells) // cells_per_region, num_regions - 1)
    # nearest-neighbour upsampling of the g x g cell mask, as cv2.resize(INTER_NEAREST) does
    cell_labels = grid(image, grid_size)
    return region_of_cell[cell_labels]
