"""OpenCV-contrib superpixels with the original SMDL parameters (``utils.SubRegionDivision``)."""

from __future__ import annotations

import cv2
import numpy as np

from common.errors import ToolkitError
from submodular_attribution.regions.base import register_division
from submodular_attribution.selection.options import Option

REGION_SIZE = Option("region_size", int, 30, "SLICO region size in pixels at the model input (30 gives ~49 regions at 224)",
                     low=1, flag="--region-size")
RULER = Option("ruler", float, 20.0, "SLICO compactness (faces: 40)", low=0.0, new=True, flag="--ruler")


def _slico_folder(values: dict) -> str:
    """``slico``, ``slico<size>`` (size not 30), ``slico[<size>]r<ruler>`` (ruler not 20), as the runs before."""
    size = "" if values["region_size"] == REGION_SIZE.default else str(values["region_size"])
    ruler = "" if values["ruler"] == RULER.default else f"r{values['ruler']:g}"
    return f"slico{size}{ruler}"


def _slico_regions(values: dict, input_size: int) -> int:
    """OpenCV places round(S / region_size) seeds per side."""
    return max(1, round(input_size / values["region_size"])) ** 2


def _check_slico(values: dict, input_size: int) -> None:
    """region_size <= S / 2 (at least 2 x 2 seeds): more than 2S/3 gives one seed, one region; from 2S on the seed
    lies outside the image (or there is none) and OpenCV reads out of bounds (the segfault)."""
    if not 1 <= values["region_size"] <= input_size // 2:
        raise ToolkitError(f"--region-size {values['region_size']}: must be between 1 and {input_size // 2}; SLICO places "
                           f"round({input_size}/region_size) seeds per side at the model's {input_size}x{input_size} input "
                           "(more than half the side gives one region; 2x the side crashes OpenCV)")


def _ximgproc():
    if not hasattr(cv2, "ximgproc"):
        raise ToolkitError("cv2.ximgproc is missing: install opencv-contrib-python-headless (and no other OpenCV wheel)")
    return cv2.ximgproc


def _bgr(image: np.ndarray) -> np.ndarray:
    # The original divides the BGR array OpenCV reads; feeding the same channel order keeps its regions.
    return np.ascontiguousarray(image[..., ::-1])


@register_division("slico", "OpenCV SLICO superpixels (region_size 30, ruler 20, 20 iterations: ~49 regions at 224)",
                   params=("iterations",), options=(REGION_SIZE, RULER), folder=_slico_folder, regions=_slico_regions,
                   check=_check_slico)
def slico(image: np.ndarray, region_size: int = REGION_SIZE.default, ruler: float = RULER.default,
          iterations: int = 20) -> np.ndarray:
    """SLICO superpixels, as ``createSuperpixelSLIC(image, region_size, ruler)`` + ``iterate(20)``; no
    connectivity enforcement (as the original)."""
    # the bounds are checked by divide() (_check_slico at the image's side): OpenCV segfaults on a too large size
    slic = _ximgproc().createSuperpixelSLIC(_bgr(image), algorithm=_ximgproc().SLICO, region_size=int(region_size), ruler=float(ruler))
    slic.iterate(int(iterations))
    return slic.getLabels()


@register_division("seeds", "OpenCV SEEDS superpixels (50 superpixels, 3 levels, 10 iterations)",
                   params=("num_superpixels", "num_levels", "iterations"))
def seeds(image: np.ndarray, num_superpixels: int = 50, num_levels: int = 3, iterations: int = 10) -> np.ndarray:
    """SEEDS superpixels with the original's arguments (prior 2, 5 histogram bins, no double step)."""
    height, width, channels = image.shape
    engine = _ximgproc().createSuperpixelSEEDS(width, height, channels, int(num_superpixels), int(num_levels))
    engine.iterate(_bgr(image), int(iterations))
    return engine.getLabels()
