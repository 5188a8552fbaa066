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

from common.lazy import lazy_method_family
from common.method_contract import method_modules
from local_attribution.specs import SPECS

METHOD_MODULES = method_modules(SPECS)
__getattr__, __all__ = lazy_method_family(__name__, METHOD_MODULES, globals(), AttributionMethod=".base",
                                          LAParts=".la", LocalAttribution=".la")
