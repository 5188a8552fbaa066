"""Baseline attribution methods (Grad-CAM, Grad-CAM++, Score-CAM, LIME, KernelSHAP, RISE, HSIC, Sobol, Occlusion)
behind one registry and one contract (see :mod:`baseline_attribution.base`)::

    from baseline_attribution import get_method
    maps = get_method("rise", n_masks=1000).attribute(blackbox, images, target, generator=torch.Generator().manual_seed(0))

The names load on first use (PEP 562, :mod:`common.lazy`): ``import baseline_attribution`` does not import torch,
so ``generate_explanation_maps --help`` stays fast. The first access imports every method module (registration).
"""

from __future__ import annotations

from baseline_attribution.specs import SPECS
from common.lazy import lazy_method_family
from common.method_contract import method_modules

METHOD_MODULES = method_modules(SPECS)
__getattr__, __all__ = lazy_method_family(__name__, METHOD_MODULES, globals(), BaselineMethod=".base")
