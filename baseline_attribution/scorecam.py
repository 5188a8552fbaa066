"""Score-CAM (Wang et al., CVPR-W 2020)."""

from __future__ import annotations

import torch

from common.method_contract import MethodInfo
from models.base import BlackBox

from .base import BaselineMethod, masked_scores, minmax, resize_maps
from .gradcam import weighted_cam
from .registry import register


@register
class ScoreCAM(BaselineMethod):
    """Score-CAM: ``ReLU(sum_k w_k A_k)`` where ``w_k`` scores the image masked by channel k's activation.

    For each channel k of ``A`` ``(B, K, h, w)`` at ``layer``: ``M_k`` = ``A_k`` resized bilinearly to S x S
    (half-pixel centres, ``align_corners=False``, as the authors' ``F.interpolate``; ``align_corners=True`` is
    pytorch-grad-cam's) and min-max scaled to [0, 1]; ``s_k`` = the target's score of ``x * M_k``; ``w = softmax_k(s)`` when
    ``channel_softmax`` else ``s``. The map is min-max scaled at layer resolution and resized bilinearly.

    Defaults follow the authors' code (haofanwang/Score-CAM): ``score="probability"`` (class softmax of the masked
    image), no softmax over channels, no baseline subtraction, half-pixel upsampling.
    ``score="logit", channel_softmax=True, align_corners=True`` is pytorch-grad-cam's ScoreCAM. Cost: 1 + K forwards per image (K = 1280 on EfficientNet-Lite0), no gradients.

    Args:
        layer: module name inside the classifier; None = the default per architecture.
        score: ``"probability"`` or ``"logit"`` of the target for the masked images.
        channel_softmax: weights = softmax over the K channel scores.
        normalize: min-max scale each map.
        align_corners: how the activations are upsampled to the masks (see above).
    """

    info = MethodInfo("scorecam", "ScoreCAM", needs_gradients=False, stochastic=False, model_output="layer")

    def _attribute(self, blackbox: BlackBox, images: torch.Tensor, target: torch.Tensor,
                   generator: torch.Generator | None) -> torch.Tensor:
        acts, _ = blackbox.layer_activations(images, self.layer)
        size = blackbox.input_size
        weights = []
        for image, act, cls in zip(images, acts, target.tolist()):
            def masks(start: int, end: int, act: torch.Tensor = act) -> torch.Tensor:
                return minmax(resize_maps(act[start:end], size, "bilinear", self.align_corners), eps=1e-8)[:, None]

            output = "probabilities" if self.score == "probability" else "logits"
            weights.append(masked_scores(blackbox, image, cls, act.shape[0], masks, output=output))
        weights = torch.stack(weights)
        if self.channel_softmax:
            weights = weights.softmax(dim=1)
        return weighted_cam(acts, weights, size, self.normalize)
