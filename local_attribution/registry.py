"""Name -> method class registry of the dense attribution zoo."""

from __future__ import annotations

import dataclasses
from typing import TypeVar

from .base import AttributionMethod

METHODS: dict[str, type[AttributionMethod]] = {}
"""Registry key (the original CLI name) -> method class. Filled by :func:`register`."""

PANEL_ORDER: tuple[str, ...] = (
    "la", "agi", "attexplore", "big", "deeplift", "eg", "fast_ig", "guided_ig", "ig", "mfaba", "sg", "sm",
)
"""Order of the paper's comparison panel: LA, AGI, AttEXplore, BIG, DeepLIFT, EG, FIG, GIG, IG,
MFABA, SG, SM."""

_REQUIRED = ("name", "display_name", "panel_label", "needs_gradients", "stochastic", "differentiates",
             "default_batch_size")

M = TypeVar("M", bound=type[AttributionMethod])


def register(cls: M) -> M:
    """Class decorator: add a dataclass subclass of :class:`AttributionMethod` to :data:`METHODS`."""
    if not (isinstance(cls, type) and issubclass(cls, AttributionMethod) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"{cls!r} must be a dataclass subclass of AttributionMethod")
    missing = [k for k in _REQUIRED if not hasattr(cls, k)]
    if missing:
        raise TypeError(f"{cls.__name__} lacks metadata {missing}")
    if cls.differentiates not in ("probability", "logit"):
        raise TypeError(f"{cls.__name__}.differentiates must be 'probability' or 'logit'")
    if cls.name in METHODS and METHODS[cls.name] is not cls:
        raise ValueError(f"attribution method name {cls.name!r} registered twice")
    METHODS[cls.name] = cls
    return cls


def list_methods() -> list[str]:
    """Registered names, in the paper's panel order (others after, alphabetically)."""
    known = [n for n in PANEL_ORDER if n in METHODS]
    return known + sorted(n for n in METHODS if n not in PANEL_ORDER)


def get_method(name: str, **hparams: object) -> AttributionMethod:
    """Instantiate method ``name`` with hyper-parameters ``hparams`` (others keep their defaults)."""
    cls = METHODS.get(name)
    if cls is None:
        raise ValueError(f"unknown attribution method {name!r}; valid: {', '.join(list_methods())}")
    fields = [f.name for f in dataclasses.fields(cls) if f.init]
    unknown = sorted(set(hparams) - set(fields))
    if unknown:
        raise ValueError(
            f"unknown hyper-parameter(s) {', '.join(unknown)} for {name!r}; valid: {', '.join(fields) or 'none'}"
        )
    return cls(**hparams)
