"""OpenCV-contrib superpixels with the original SMDL parameters (``utils.SubRegionDivision``)."""

from __future__ import annotations

import cv2
import numpy as np

from common.errors import ToolkitError
from submodular_attribution.regions.base import register_division


def _ximgproc():
    if not hasattr(cv2, "ximgproc"):
        raise ToolkitError("cv2.ximgproc is missing: install opencv-contrib-python-headless (and no other OpenCV wheel)")
    return cv2.ximgproc


def _bgr(image: np.ndarray) -> np.ndarray:
    # The original divides the BGR array OpenCV reads; feeding the same channel order keeps its regions.
    return np.ascontiguousarray(image[..., ::-1])


@register_division("slico", "OpenCV SLICO superpixels (region_size 30, ruler 20, 20 iterations: ~49 regions at 224)",
                   params=("region_size", "ruler", "iterations"))
def slico(image: np.ndarray, region_size: int = 30, ruler: float = 20.0, iterations: int = 20) -> np.ndarray:
    """SLICO superpixels, as ``createSuperpixelSLIC(image, region_size, ruler)`` + ``iterate(20)``; no
    connectivity enforcement (as the original)."""
    # OpenCV places round(side / region_size) seeds per side, the first at region_size / 2: from region_size
    # = 2 x side on, that seed lies outside the image (or there is none) and OpenCV reads out of bounds (segfault).
    if int(region_size) >= 2 * min(image.shape[:2]):
        raise ToolkitError(f"--region-size {region_size}: at least twice the {image.shape[1]}x{image.shape[0]} image "
                           "side (OpenCV SLIC would seed outside the image and crash); use at most half the side")
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
