"""segment-anything from a local checkpoint (this machine cannot download SAM weights)."""

from __future__ import annotations

from pathlib import Path

import torch

from common.errors import ToolkitError
from models.base import resolve_device

SAM_MODEL_TYPES = ("vit_h", "vit_l", "vit_b")


def load_sam(model_type: str = "vit_h", checkpoint: str | Path | None = None, device: str = "cpu",
             pretrained: bool = True) -> torch.nn.Module:
    """A ``segment_anything.Sam`` in eval mode on ``device``.

    Args:
        checkpoint: the official ``sam_vit_{h,l,b}_*.pth`` file (``--sam-checkpoint``).
        pretrained: False builds the architecture randomly initialised (tests).

    Raises:
        ToolkitError: unknown model type, or a missing/unreadable checkpoint (the message names the flag and file).
    """
    from segment_anything import sam_model_registry

    if model_type not in SAM_MODEL_TYPES:
        raise ToolkitError(f"--sam-model-type {model_type}: choose one of {', '.join(SAM_MODEL_TYPES)}")
    device_obj = resolve_device(device)
    if not pretrained:
        return sam_model_registry[model_type](checkpoint=None).to(device_obj).eval()
    if not checkpoint:
        raise ToolkitError(f"--sam-checkpoint is required for SAM regions: the {model_type} .pth file (e.g. sam_vit_h_4b8939.pth)")
    path = Path(checkpoint)
    if not path.is_file():
        raise ToolkitError(f"--sam-checkpoint {path}: file not found; download the SAM {model_type} checkpoint there")
    model = sam_model_registry[model_type](checkpoint=None)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as exc:  # noqa: BLE001 - any unreadable or mismatched file is a user error
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise ToolkitError(f"--sam-checkpoint {path}: not a SAM {model_type} checkpoint ({first})") from exc
    return model.to(device_obj).eval()


def build_mask_generator(sam: torch.nn.Module, points_per_side: int = 32, stability_score_thresh: float = 0.8,
                         pred_iou_thresh: float = 0.88):
    """``SamAutomaticMaskGenerator`` with the original's stability threshold (0.8; the CUB tutorial used 0.2)."""
    from segment_anything import SamAutomaticMaskGenerator

    if points_per_side < 1:
        raise ToolkitError(f"--sam-points-per-side {points_per_side}: must be >= 1")
    return SamAutomaticMaskGenerator(sam, points_per_side=points_per_side, stability_score_thresh=stability_score_thresh,
                                     pred_iou_thresh=pred_iou_thresh)
