"""Kernel SHAP for images (Lundberg & Lee, NeurIPS 2017), as Xplique's ``KernelShap``."""

from __future__ import annotations

import torch

from common.method_contract import MethodError, MethodInfo

from .lime import SuperpixelSurrogate
from .registry import register


def shapley_samples(n_samples: int, n_features: int, generator: torch.Generator | None) -> torch.Tensor:
    """``(n_samples, M)`` coalitions drawn from the Shapley kernel: the coalition size k in 1..M-1 with
    ``p(k) ∝ (M - 1) / (k (M - k))``, then k features uniformly at random (vectorised: the k smallest of M
    uniform draws). Sampled this way, an unweighted regression estimates Shapley values."""
    sizes = torch.arange(1, n_features, dtype=torch.float64)
    probs = (n_features - 1) / (sizes * (n_features - sizes))
    k = torch.multinomial(probs, n_samples, replacement=True, generator=generator) + 1  # (N,)
    ranks = torch.rand(n_samples, n_features, generator=generator).argsort(dim=1).argsort(dim=1)
    return (ranks < k[:, None]).to(torch.int64)


@register
class KernelShap(SuperpixelSurrogate):
    """Kernel SHAP: coalitions of superpixels drawn from the Shapley kernel, an ordinary least-squares fit of the
    target probability on them (Xplique's ``KernelShap``: similarity 1, ``LinearRegression``).

    Superpixels: quickshift (``kernel_size=4, max_dist=200, ratio=0.2``); switched-off superpixels become grey
    0.5 (Xplique's ``ref_value``). The map paints each superpixel with its coefficient: ``(B, S, S)``, signed.
    Cost: ``n_samples`` forwards per image (1000, the SMDL baseline setting).

    Args:
        n_samples: coalitions per image.
        fill: ``"grey"``, ``"black"``, ``"mean"`` (the model's normalisation mean colour) or ``"segment_mean"``
            (each superpixel's own mean colour).
        kernel_size, max_dist, ratio: quickshift parameters.
    """

    info = MethodInfo("kernelshap", "KernelShap", needs_gradients=False, stochastic=True,
                      model_output="probabilities")

    def draw(self, n_features: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None, float]:
        if n_features < 2:
            raise MethodError("kernelshap: the image has a single superpixel; lower --kernel-size/--max-dist")
        return shapley_samples(self.n_samples, n_features, generator), None, 0.0
