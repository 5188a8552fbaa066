"""The black boxes shared by every package: ``load_model(name) -> BlackBox``.

The names load on first use (PEP 562): ``import models`` and ``DEFAULT_MODEL`` do not import torch, so the
entry modules' ``--help`` stays fast.
"""

from __future__ import annotations

from common.lazy import lazy_exports

DEFAULT_MODEL = "efficientnet_lite0"
_EXPORTS = {
    "BlackBox": "models.base",
    "ImageClassifier": "models.base",
    "resolve_device": "models.base",
    "imagenet_class_names": "models.imagenet",
    "MODELS": "models.registry",
    "list_models": "models.registry",
    "load_classifier": "models.registry",
    "load_model": "models.registry",
}

__all__ = ["DEFAULT_MODEL", *_EXPORTS]


__getattr__ = lazy_exports(__name__, _EXPORTS, globals())
