"""LIME for images (Ribeiro et al., KDD 2016), with the defaults of the ``lime`` package."""

from __future__ import annotations

from abc import abstractmethod

import torch
import torch.nn.functional as F

from common.method_contract import MethodInfo
from models.base import BlackBox

from .base import (
    BaselineMethod,
    fill_value,
    fit_linear,
    masked_scores,
    seed_from,
    segment_image,
    segment_masks,
)
from .registry import register


def segment_fill(blackbox: BlackBox, image: torch.Tensor, segments: torch.Tensor, fill: str) -> torch.Tensor | float:
    """What a switched-off superpixel becomes: ``"segment_mean"`` its own mean colour (lime's ``hide_color=None``)
    as a ``(3, S, S)`` image, else :func:`base.fill_value` (``black`` 0, ``grey`` 0.5, ``mean`` the model's
    normalisation mean colour)."""
    if fill != "segment_mean":
        return fill_value(fill, blackbox, image)
    onehot = F.one_hot(segments.flatten(), int(segments.max()) + 1).float()  # (S*S, M)
    means = (image.flatten(1) @ onehot) / onehot.sum(0).clamp_min(1)  # (3, M)
    return means[:, segments]


def interpretable_regression(blackbox: BlackBox, image: torch.Tensor, target: int, z: torch.Tensor,
                             segments: torch.Tensor, fill: str, weights: torch.Tensor | None,
                             alpha: float) -> torch.Tensor:
    """Score the images where the superpixels off in ``z`` ``(N, M)`` are replaced by ``fill``, fit
    ``score ~ z`` (weighted ridge) and paint each superpixel with its coefficient: ``(S, S)``."""
    fill_image = segment_fill(blackbox, image, segments, fill)
    scores = masked_scores(blackbox, image, target, z.shape[0], lambda a, b: segment_masks(z[a:b], segments),
                           fill=fill_image)
    coef = fit_linear(z, scores, weights, alpha)
    return coef.float()[segments]


class SuperpixelSurrogate(BaselineMethod):
    """Shared loop of LIME and Kernel SHAP: quickshift superpixels per image, interpretable samples from
    :meth:`draw` (one seed per call, so every image of the call draws the same stream), a regression per image.
    Subclasses are dataclasses with the fields ``n_samples, fill, kernel_size, max_dist, ratio``."""

    n_samples: int
    fill: str
    kernel_size: float
    max_dist: float
    ratio: float

    @abstractmethod
    def draw(self, n_features: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None, float]:
        """Samples ``z`` ``(n_samples, M)`` in {0, 1}, their regression weights ``(n_samples,)`` (None = equal)
        and the ridge penalty."""

    def _attribute(self, blackbox: BlackBox, images: torch.Tensor, target: torch.Tensor,
                   generator: torch.Generator | None) -> torch.Tensor:
        seed = seed_from(generator)
        maps = []
        for image, cls in zip(images, target.tolist()):
            segments = segment_image(image, self.kernel_size, self.max_dist, self.ratio)
            z, weights, alpha = self.draw(int(segments.max()) + 1, torch.Generator().manual_seed(seed))
            maps.append(interpretable_regression(blackbox, image, cls, z.to(image.device), segments, self.fill,
                                                 weights if weights is None else weights.to(image.device), alpha))
        return torch.stack(maps)


@register
class Lime(SuperpixelSurrogate):
    """LIME: a weighted ridge regression of the target probability on which superpixels are kept.

    Superpixels: quickshift (``kernel_size=4, max_dist=200, ratio=0.2``, lime's default), M of them.
    Samples ``z`` ``(n_samples, M)`` uniform in {0, 1} with the first row all ones (the image itself); switched-off
    superpixels take their own mean colour (``fill="segment_mean"``, lime's ``hide_color=None``). Weights
    ``sqrt(exp(-d^2 / kernel_width^2))`` with ``d`` the cosine distance of ``z`` to the all-ones vector;
    regression ``Ridge(alpha=1)`` with intercept (what ``lime`` fits with its default ``num_features=100000``).
    The map paints each superpixel with its coefficient: ``(B, S, S)``, signed. Cost: ``n_samples`` forwards
    per image (1000: the SMDL baseline setting and lime's default).

    Args:
        n_samples: perturbed images per image.
        kernel_width: width of the exponential kernel on the cosine distance.
        alpha: ridge penalty.
        fill: ``"segment_mean"``, ``"mean"`` (the model's normalisation mean colour), ``"grey"`` or ``"black"``.
        kernel_size, max_dist, ratio: quickshift parameters.
    """

    info = MethodInfo("lime", "Lime", needs_gradients=False, stochastic=True, model_output="probabilities")

    def draw(self, n_features: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None, float]:
        z = torch.randint(0, 2, (self.n_samples, n_features), generator=generator)
        z[0] = 1
        cosine = F.cosine_similarity(z.double(), torch.ones_like(z[:1], dtype=torch.float64), dim=1)
        distance = 1.0 - torch.nan_to_num(cosine, nan=0.0)  # all-zero rows: similarity 0 (sklearn's convention)
        return z, torch.exp(-distance.pow(2) / self.kernel_width**2).sqrt(), self.alpha
