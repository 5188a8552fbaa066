"""Local Attribution (LA, ACM MM 2024) and the 11 gradient methods it is compared with.

    >>> from local_attribution import get_method, list_methods
    >>> la = get_method("la", max_iter=10)
    >>> maps = la.attribute(model, images, generator=torch.Generator().manual_seed(0))

``model`` maps images in [0, 1] to logits; every method returns ``(B, 3, H, W)`` float32 maps.
See :class:`local_attribution.base.AttributionMethod` for the full contract.

The names below load on first use (PEP 562), so ``--help`` of the entry modules does not import torch;
the first access imports every method module, which registers the methods.
"""

from __future__ import annotations

import importlib

from common.lazy import lazy_exports

METHOD_MODULES = ("agi", "attexplore", "big", "deeplift", "expected_gradients", "fast_ig", "guided_ig", "ig", "la",
                  "mfaba", "saliency", "smoothgrad")
_EXPORTS = {
    "METHODS": ".registry",
    "AttributionMethod": ".base",
    "LAParts": ".la",
    "LocalAttribution": ".la",
    "get_method": ".registry",
    "list_methods": ".registry",
    "register": ".registry",
}

__all__ = list(_EXPORTS)


def _register_methods() -> None:
    for module in METHOD_MODULES:  # importing the modules registers the methods
        importlib.import_module(f"{__name__}.{module}")


__getattr__ = lazy_exports(__name__, _EXPORTS, globals(), before=_register_methods)
