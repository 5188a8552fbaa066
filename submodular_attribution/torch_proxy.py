"""``torch`` for modules that must import without it: the selectors and masking declare their options and
names at import (the driver builds ``--help`` and validates flags from them), and only their work needs torch.

``from submodular_attribution.torch_proxy import torch`` then ``torch.zeros(...)`` imports torch on the first
attribute access; type hints stay strings (``from __future__ import annotations``).
"""

from __future__ import annotations

import importlib
from typing import Any


class _TorchProxy:
    """Forwards every attribute to the real ``torch`` module, imported on first use."""

    def __getattr__(self, name: str) -> Any:
        return getattr(importlib.import_module("torch"), name)


torch: Any = _TorchProxy()
