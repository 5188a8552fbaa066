"""Grad-CAM (Selvaraju et al., ICCV 2017)."""

from __future__ import annotations

import torch

from common.method_contract import MethodInfo
from models.base import BlackBox

from .base import BaselineMethod, minmax, resize_maps
from .registry import register


def weighted_cam(activations: torch.Tensor, weights: torch.Tensor, size: int, normalize: bool = True) -> torch.Tensor:
    """``ReLU(sum_k w_k A_k)`` ``(B, h, w)`` from activations ``(B, K, h, w)`` and weights ``(B, K)``, min-max scaled
    per image (when ``normalize``) at layer resolution, then bilinearly resized to ``(B, size, size)`` (the
    pytorch-grad-cam pipeline)."""
    cam = torch.relu(torch.einsum("bk,bkhw->bhw", weights, activations))
    if normalize:
        cam = minmax(cam)
    return resize_maps(cam, size, "bilinear")


@register
class GradCAM(BaselineMethod):
    """Grad-CAM: ``ReLU(sum_k w_k A_k)`` with ``w_k = mean_{ij} d y_c / d A_k[i, j]``.

    ``A`` ``(B, K, h, w)``: activations of ``layer`` (default: the architecture's last feature map,
    :func:`models.base.default_cam_layer`); ``y_c``: the target's raw logit. The map is min-max scaled to [0, 1]
    per image at layer resolution and resized bilinearly to ``(B, S, S)``. Cost: one forward + backward per image.

    Args:
        layer: module name inside the classifier (e.g. ``body.layer4``); None = the default per architecture.
        normalize: min-max scale each map (pytorch-grad-cam); False keeps the raw ReLU'd values.
    """

    info = MethodInfo("gradcam", "GradCAM", needs_gradients=True, stochastic=False, model_output="layer")

    def _attribute(self, blackbox: BlackBox, images: torch.Tensor, target: torch.Tensor,
                   generator: torch.Generator | None) -> torch.Tensor:
        acts, grads, _ = blackbox.layer_gradients(images, target, self.layer)
        return weighted_cam(acts, self.channel_weights(acts, grads), blackbox.input_size, self.normalize)

    def channel_weights(self, acts: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
        """``(B, K)`` weights from activations and gradients ``(B, K, h, w)``: the spatial mean of the gradient."""
        return grads.mean(dim=(2, 3))
