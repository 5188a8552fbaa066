"""Name -> method class registry of the dense attribution zoo: the family's
:class:`common.method_contract.MethodRegistry`."""

from __future__ import annotations

from common.method_contract import MethodRegistry

from .base import AttributionMethod
from .specs import SPECS

PANEL_ORDER: tuple[str, ...] = tuple(SPECS)
"""Order of the paper's comparison panel: LA, AGI, AttEXplore, BIG, DeepLIFT, EG, FIG, GIG, IG,
MFABA, SG, SM (the order of :data:`local_attribution.specs.SPECS`)."""

REGISTRY = MethodRegistry("attribution", AttributionMethod, SPECS,
                          extra_metadata=("panel_label", "differentiates", "default_batch_size"), flag="--attr-method")
METHODS = REGISTRY.methods
"""Registry key (the original CLI name) -> method class. Filled by :func:`register`."""


def register(cls):
    """Class decorator: add a dataclass subclass of :class:`AttributionMethod` to :data:`METHODS` (checks its
    metadata and that its fields equal its spec; construction then validates the hyper-parameters)."""
    if getattr(cls, "differentiates", None) not in ("probability", "logit"):
        raise TypeError(f"{cls.__name__}.differentiates must be 'probability' or 'logit'")
    return REGISTRY.register(cls)


def list_methods() -> list[str]:
    """Registered names, in the paper's panel order."""
    return REGISTRY.names()


def get_method(name: str, **hparams: object) -> AttributionMethod:
    """Instantiate method ``name`` with hyper-parameters ``hparams`` (others keep their defaults).

    Raises:
        common.method_contract.MethodError: unknown method or hyper-parameter, or a value out of range.
    """
    return REGISTRY.get(name, **hparams)
