"""Name -> baseline method class, with the metadata tests and benchmarks are generated from."""

from __future__ import annotations

import dataclasses
from typing import TypeVar

from common.errors import ToolkitError

from .base import BaselineMethod

METHODS: dict[str, type[BaselineMethod]] = {}
"""Registry key -> method class. Filled by :func:`register` when :mod:`baseline_attribution` is imported."""

ORDER: tuple[str, ...] = ("gradcam", "gradcampp", "scorecam", "lime", "kernelshap", "rise", "hsic", "sobol",
                          "occlusion", "ig")
MODEL_OUTPUTS = ("probabilities", "logits", "layer")
_REQUIRED = ("name", "display_name", "needs_gradients", "stochastic", "model_output")

M = TypeVar("M", bound=type[BaselineMethod])


def register(cls: M) -> M:
    """Class decorator: check the metadata of a dataclass :class:`BaselineMethod` and add it to :data:`METHODS`;
    sets ``cls.default_params`` from the dataclass defaults."""
    if not (isinstance(cls, type) and issubclass(cls, BaselineMethod) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"{cls!r} must be a dataclass subclass of BaselineMethod")
    missing = [k for k in _REQUIRED if k not in vars(cls) and not hasattr(cls, k)]
    if missing:
        raise TypeError(f"{cls.__name__} lacks metadata {missing}")
    if cls.model_output not in MODEL_OUTPUTS:
        raise TypeError(f"{cls.__name__}.model_output must be one of {MODEL_OUTPUTS}")
    if cls.name in METHODS and METHODS[cls.name] is not cls:
        raise ValueError(f"baseline method name {cls.name!r} registered twice")
    cls.default_params = {f.name: f.default for f in dataclasses.fields(cls) if f.init}
    METHODS[cls.name] = cls
    return cls


def list_methods() -> list[str]:
    """Registered names, in the SMDL paper's table order (others after, alphabetically)."""
    known = [n for n in ORDER if n in METHODS]
    return known + sorted(n for n in METHODS if n not in ORDER)


def get_method(name: str, **params: object) -> BaselineMethod:
    """Instantiate method ``name`` with ``params`` (others keep their defaults).

    Raises:
        ToolkitError: unknown method or parameter (the message lists the valid ones).
    """
    cls = METHODS.get(name)
    if cls is None:
        raise ToolkitError(f"--method {name}: unknown baseline method; choose one of {', '.join(list_methods())}")
    unknown = sorted(set(params) - set(cls.default_params))
    if unknown:
        raise ToolkitError(f"--method {name}: unknown parameter(s) {', '.join(unknown)}; valid: "
                           f"{', '.join(cls.default_params) or 'none'}")
    return cls(**params)
