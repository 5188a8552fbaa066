"""Masked images for a batch of subsets, in one vectorised gather.

A subset is a bool vector over the m regions; ``keep = subsets[:, labels]`` is the same as
``subsets @ one_hot(regions)`` (each pixel belongs to exactly one region) but costs O(B*H*W), not O(B*m*H*W).
"""

from __future__ import annotations

from common.errors import ToolkitError
from submodular_attribution.torch_proxy import torch

FILLS = ("black", "mean", "blur")


def compose_masked(image: torch.Tensor, fill: torch.Tensor, labels: torch.Tensor, subsets: torch.Tensor) -> torch.Tensor:
    """Images that keep the regions of each subset and show ``fill`` elsewhere.

    Args:
        image: ``(3, H, W)`` float in [0, 1].
        fill: ``(3, H, W)`` float, what removed pixels become (zeros = SMDL's black).
        labels: ``(H, W)`` long, region id of each pixel, 0..m-1.
        subsets: ``(B, m)`` bool.

    Returns:
        ``(B, 3, H, W)`` float, in channels-last memory layout (what the black box forwards, so no copy there).
    """
    keep = subsets[:, labels]  # (B, H, W)
    # composed as (B, H, W, 3): the permuted view is channels-last contiguous
    composed = torch.where(keep[..., None], image.permute(1, 2, 0).contiguous()[None], fill.permute(1, 2, 0).contiguous()[None])
    return composed.permute(0, 3, 1, 2)


def make_fill(image: torch.Tensor, kind: str = "black") -> torch.Tensor:
    """The replacement for removed pixels: ``black`` (0, the original), ``mean`` (the image's mean colour) or
    ``blur`` (a Gaussian-blurred copy, sigma = 10 px). ``(3, H, W)`` -> ``(3, H, W)``."""
    if kind == "black":
        return torch.zeros_like(image)
    if kind == "mean":
        return image.mean(dim=(1, 2), keepdim=True).expand_as(image).clone()
    if kind == "blur":
        import torchvision.transforms.functional as tvf

        kernel = min(61, (min(image.shape[1:]) - 1) // 2 * 2 + 1)  # reflect padding must fit the image
        return tvf.gaussian_blur(image[None], kernel_size=kernel, sigma=10.0)[0]
    raise ToolkitError(f"--fill {kind}: unknown fill; choose one of {', '.join(FILLS)}")
