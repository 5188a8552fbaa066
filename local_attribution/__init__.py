"""Local Attribution (LA, ACM MM 2024) and the 11 gradient methods it is compared with.

    >>> from local_attribution import get_method, list_methods
    >>> la = get_method("la", max_iter=10)
    >>> maps = la.attribute(model, images, generator=torch.Generator().manual_seed(0))

``model`` maps images in [0, 1] to logits; every method returns ``(B, 3, H, W)`` float32 maps.
See :class:`local_attribution.base.AttributionMethod` for the full contract.
"""

from . import (  # noqa: F401  (importing the modules registers the methods)
    agi,
    attexplore,
    big,
    deeplift,
    expected_gradients,
    fast_ig,
    guided_ig,
    ig,
    la,
    mfaba,
    saliency,
    smoothgrad,
)
from .base import AttributionMethod
from .la import LAParts, LocalAttribution
from .registry import METHODS, get_method, list_methods, register

__all__ = [
    "METHODS",
    "AttributionMethod",
    "LAParts",
    "LocalAttribution",
    "get_method",
    "list_methods",
    "register",
]
