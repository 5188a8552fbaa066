"""Baseline attribution methods (Grad-CAM, Grad-CAM++, Score-CAM, LIME, KernelSHAP, RISE, HSIC, Sobol, Occlusion)
behind one registry and one contract (see :mod:`baseline_attribution.base`)::

    from baseline_attribution import get_method
    maps = get_method("rise", n_masks=1000).attribute(blackbox, images, target, generator=torch.Generator().manual_seed(0))
"""

from . import gradcam, gradcampp, hsic, ig, kernelshap, lime, occlusion, rise, scorecam, sobol  # noqa: F401  (registration)
from .base import BaselineMethod
from .registry import METHODS, get_method, list_methods

__all__ = ["BaselineMethod", "METHODS", "get_method", "list_methods"]
