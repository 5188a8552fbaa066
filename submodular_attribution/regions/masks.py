"""Precomputed regions from files (``--mask-dir``): run SAM (or anything) once on a GPU, SMDL many times.

Per image, ``DIR/<class>/<stem>.npy`` (fallback ``DIR/<stem>.npy``) holds either an int label map ``(H, W)``
or a mask stack ``(K, H, W)`` (bool/0-1, e.g. SAM's raw masks in generator order). Both are resized to the
model input with nearest-neighbour interpolation; a stack is post-processed as SAM masks
(:func:`~submodular_attribution.regions.sam.processing_sam_concepts`).
"""

from __future__ import annotations

import cv2
import numpy as np

from common.errors import ToolkitError
from submodular_attribution.regions.base import register_division
from submodular_attribution.regions.sam import labels_from_disjoint_masks, processing_sam_concepts


def _resize_nearest(array: np.ndarray, height: int, width: int) -> np.ndarray:
    if array.shape == (height, width):
        return array
    return cv2.resize(array, (width, height), interpolation=cv2.INTER_NEAREST)


@register_division("masks", "precomputed label maps (H, W) or mask stacks (K, H, W) from --mask-dir",
                   sample_inputs=("masks",))
def masks_division(image: np.ndarray, masks: np.ndarray | None = None) -> np.ndarray:
    """Label map ``(H, W)`` for ``image`` from a precomputed label map or mask stack."""
    if masks is None:
        raise ToolkitError("--superpixel-algorithm masks needs precomputed regions per image: pass --mask-dir DIR")
    height, width = image.shape[:2]
    array = np.asarray(masks)
    if array.ndim == 2:
        return _resize_nearest(array.astype(np.int32), height, width)
    if array.ndim == 3:
        stack = np.stack([_resize_nearest(m.astype(np.uint8), height, width) for m in array]) > 0 if len(array) else \
            np.zeros((0, height, width), dtype=bool)
        return labels_from_disjoint_masks(processing_sam_concepts(stack))
    raise ToolkitError(f"region file of shape {array.shape}: expected a label map (H, W) or a mask stack (K, H, W)")
