"""Grad-CAM++ (Chattopadhay et al., WACV 2018)."""

from __future__ import annotations

import torch

from common.method_contract import MethodInfo

from .gradcam import GradCAM
from .registry import register


@register
class GradCAMPlusPlus(GradCAM):
    """Grad-CAM++: ``ReLU(sum_k w_k A_k)`` with ``w_k = sum_{ij} alpha_k[i,j] ReLU(g_k[i,j])`` and
    ``alpha = g^2 / (2 g^2 + sum_{ab} A_k[a,b] g^3 + eps)`` (0 where ``g = 0``), ``g = d y_c / d A`` (the paper's
    closed form for an exponential output).

    With the default ``eps = 1e-6`` this is exactly pytorch-grad-cam's ``GradCAMPlusPlus`` (same eps, same
    ``g != 0`` mask, same min-max scaling at layer resolution). Xplique's ``GradCAMPP`` has no eps
    (``eps=0`` here); the two differ only where the denominator is within ~1e-6 of 0.

    ``A``, ``g``: ``(B, K, h, w)`` at ``layer``; output ``(B, S, S)`` min-max scaled and resized bilinearly.
    Cost: one forward + backward per image.

    Args:
        layer: module name inside the classifier; None = the default per architecture.
        normalize: min-max scale each map.
        eps: added to the alpha denominator (1e-6: pytorch-grad-cam; 0: Xplique).
    """

    info = MethodInfo("gradcampp", "GradCAMPP", needs_gradients=True, stochastic=False, model_output="layer")

    def channel_weights(self, acts: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
        """``(B, K)``: ``sum_ij alpha_k[i, j] ReLU(g_k[i, j])``."""
        grads2 = grads.pow(2)
        denom = 2 * grads2 + acts.sum(dim=(2, 3), keepdim=True) * grads.pow(3) + self.eps
        alpha = torch.where(grads != 0, grads2 / denom, torch.zeros_like(grads))
        return (alpha * torch.relu(grads)).sum(dim=(2, 3))
