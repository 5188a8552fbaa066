"""A regular grid of ``grid_size x grid_size`` cells (the original's ``Partition_by_patch``)."""

from __future__ import annotations

import numpy as np

from common.errors import ToolkitError
from submodular_attribution.regions.base import register_division
from submodular_attribution.selection.options import Option

GRID_SIZE = Option("grid_size", int, 7, "cells per side for --superpixel-algorithm grid", low=1, flag="--grid-size")


def _check_grid(values: dict, input_size: int) -> None:
    if not 2 <= values["grid_size"] <= input_size:
        raise ToolkitError(f"--grid-size {values['grid_size']}: must be between 2 and {input_size}; cells per side of the "
                           f"{input_size}x{input_size} model input (1 gives one region)")


@register_division("grid", "regular grid of grid_size x grid_size cells", options=(GRID_SIZE,),
                   folder=lambda v: f"grid{v['grid_size']}x{v['grid_size']}", regions=lambda v, size: v["grid_size"] ** 2,
                   check=_check_grid)
def grid(image: np.ndarray, grid_size: int = GRID_SIZE.default) -> np.ndarray:
    """Cell (r, c) gets label r * grid_size + c; cell borders at round(i * H / grid_size)."""
    height, width = image.shape[:2]
    rows = np.minimum((np.arange(height) * grid_size) // height, grid_size - 1)
    cols = np.minimum((np.arange(width) * grid_size) // width, grid_size - 1)
    return (rows[:, None] * grid_size + cols[None, :]).astype(np.int32)
