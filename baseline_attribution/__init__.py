"""Baseline attribution methods (Grad-CAM, Grad-CAM++, Score-CAM, LIME, KernelSHAP, RISE, HSIC, Sobol, Occlusion)
behind one registry and one contract (see :mod:`baseline_attribution.base`)::

    from baseline_attribution import get_method
    maps = get_method("rise", n_masks=1000).attribute(blackbox, images, target, generator=torch.Generator().manual_seed(0))

The names load on first use (PEP 562, :mod:`common.lazy`): ``import baseline_attribution`` does not import torch,
so ``generate_explanation_maps --help`` stays fast. The first access imports every method module (registration).
"""

from __future__ import annotations

import importlib

from common.lazy import lazy_exports

METHOD_MODULES = ("gradcam", "gradcampp", "hsic", "ig", "kernelshap", "lime", "occlusion", "rise", "scorecam", "sobol")
_EXPORTS = {
    "BaselineMethod": ".base",
    "METHODS": ".registry",
    "get_method": ".registry",
    "list_methods": ".registry",
}

__all__ = list(_EXPORTS)


def _register_methods() -> None:
    for module in METHOD_MODULES:
        importlib.import_module(f".{module}", __name__)


__getattr__ = lazy_exports(__name__, _EXPORTS, globals(), before=_register_methods)
