"""Segment-Anything regions (specs/smdl.md §2.3): automatic masks post-processed as the original's
``processing_sam_concepts``, then one label map.

Post-processing of the masks M_1..M_K in the generator's order:

1. for every pair i < j, in order, with masks updated in place: I = M_i ∧ M_j; when I is not empty,
   p_i = |I| / max(|M_i|, 1) and p_j = |I| / max(|M_j|, 1); if p_i > p_j, I is removed from M_j, otherwise from
   M_i (the overlap stays where it is the larger fraction, usually in the smaller mask);
2. masks covering <= 0.05 % of the image are dropped;
3. the pixels no kept mask covers form one residual region (only when there are any); no masks -> one region.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from common.errors import ToolkitError
from submodular_attribution.regions.base import register_division
from submodular_attribution.selection.options import Option

MIN_AREA_FRACTION = 0.0005
SAM_OPTIONS = (
    Option("checkpoint", str, None, "segment-anything checkpoint file (e.g. sam_vit_h_4b8939.pth)", flag="--sam-checkpoint"),
    Option("model_type", str, "vit_h", "SAM architecture of --sam-checkpoint", choices=("vit_h", "vit_l", "vit_b"),
           flag="--sam-model-type"),
    Option("stability_score_thresh", float, 0.8, "SamAutomaticMaskGenerator stability threshold (original 0.8; CUB "
           "tutorial 0.2)", low=0.0, high=1.0, flag="--sam-stability-score-thresh"),
    Option("points_per_side", int, 32, "SAM point grid per side", low=1, flag="--sam-points-per-side"),
    Option("pred_iou_thresh", float, 0.88, "SAM predicted-IoU threshold", low=0.0, high=1.0, flag="--sam-pred-iou-thresh"),
)


def _check_sam(values: dict, input_size: int) -> None:
    from pathlib import Path

    if not values["checkpoint"]:
        raise ToolkitError(f"--sam-checkpoint is required for SAM regions: the {values['model_type']} .pth file")
    if not Path(values["checkpoint"]).is_file():
        raise ToolkitError(f"--sam-checkpoint {values['checkpoint']}: file not found; download the SAM "
                           f"{values['model_type']} checkpoint there")


def processing_sam_concepts(masks: np.ndarray) -> list[np.ndarray]:
    """Disjoint masks from overlapping ones: ``(K, H, W)`` bool -> list of ``(H, W)`` bool, the residual last.

    The returned masks partition the image (every pixel in exactly one).
    """
    masks = np.array(masks, dtype=bool, copy=True)
    if masks.ndim != 3 or masks.shape[0] == 0:
        shape = masks.shape[-2:]
        return [np.ones(shape, dtype=bool)]
    flat = masks.reshape(masks.shape[0], -1)
    for i in range(flat.shape[0]):
        for j in range(i + 1, flat.shape[0]):
            overlap = flat[i] & flat[j]
            count = int(overlap.sum())
            if count == 0:
                continue
            share_i = count / max(int(flat[i].sum()), 1)
            share_j = count / max(int(flat[j].sum()), 1)
            if share_i > share_j:
                flat[j] &= ~overlap
            else:
                flat[i] &= ~overlap
    kept = [m.reshape(masks.shape[1:]) for m in flat if m.mean() > MIN_AREA_FRACTION]
    covered = np.any(kept, axis=0) if kept else np.zeros(masks.shape[1:], dtype=bool)
    if not covered.all():
        kept.append(~covered)
    return kept


def labels_from_disjoint_masks(masks: list[np.ndarray]) -> np.ndarray:
    """``(H, W)`` int32 label map: pixel -> index of the (disjoint) mask that covers it."""
    labels = np.zeros(masks[0].shape, dtype=np.int32)
    for index, mask in enumerate(masks):
        labels[mask] = index
    return labels


def sam_labels(image: np.ndarray, generator) -> np.ndarray:
    """Run a ``SamAutomaticMaskGenerator`` on the RGB ``image`` and post-process its masks -> label map."""
    records = generator.generate(np.ascontiguousarray(image))
    stack = np.stack([r["segmentation"] for r in records]) if records else np.zeros((0, *image.shape[:2]), dtype=bool)
    return labels_from_disjoint_masks(processing_sam_concepts(stack))


@lru_cache(maxsize=2)
def _cached_generator(checkpoint: str, model_type: str, device: str, points_per_side: int,
                      stability_score_thresh: float, pred_iou_thresh: float):
    from models.sam import build_mask_generator, load_sam

    return build_mask_generator(load_sam(model_type, checkpoint, device), points_per_side=points_per_side,
                                stability_score_thresh=stability_score_thresh, pred_iou_thresh=pred_iou_thresh)


@register_division(
    "sam",
    "Segment-Anything masks (--sam-checkpoint), de-overlapped as the original, tiny masks dropped, one residual region",
    options=SAM_OPTIONS, runtime=("device",), folder=lambda values: "SAM", check=_check_sam,
)
def sam_division(image: np.ndarray, checkpoint: str | None = None, model_type: str = "vit_h",
                 stability_score_thresh: float = 0.8, points_per_side: int = 32, pred_iou_thresh: float = 0.88,
                 device: str = "cpu") -> np.ndarray:
    """SAM regions of ``image`` (RGB uint8 at the model's input size, as LiMA's online script)."""
    generator = _cached_generator(str(checkpoint) if checkpoint else "", model_type, str(device), int(points_per_side),
                                  float(stability_score_thresh), float(pred_iou_thresh))
    return sam_labels(image, generator)
