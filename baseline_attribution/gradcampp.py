"""Grad-CAM++ (Chattopadhay et al., WACV 2018)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .gradcam import GradCAM
from .registry import register


@register
@dataclass
class GradCAMPlusPlus(GradCAM):
    """Grad-CAM++: ``ReLU(sum_k w_k A_k)`` with ``w_k = sum_{ij} alpha_k[i,j] ReLU(g_k[i,j])`` and
    ``alpha = g^2 / (2 g^2 + sum_{ab} A_k[a,b] g^3)`` (0 where ``g = 0``), ``g = d y_c / d A`` (the paper's closed
    form for an exponential output, as pytorch-grad-cam and Xplique use it).

    ``A``, ``g``: ``(B, K, h, w)`` at ``layer``; output ``(B, S, S)`` min-max scaled and resized bilinearly.
    Cost: one forward + backward per image.

    Args:
        layer: module name inside the classifier; None = the default per architecture.
        normalize: min-max scale each map.
    """

    name = "gradcampp"
    display_name = "GradCAMPP"

    @staticmethod
    def channel_weights(acts: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
        grads2 = grads.pow(2)
        denom = 2 * grads2 + acts.sum(dim=(2, 3), keepdim=True) * grads.pow(3)
        alpha = torch.where(grads != 0, grads2 / (denom + 1e-7), torch.zeros_like(grads))
        return (alpha * torch.relu(grads)).sum(dim=(2, 3))
