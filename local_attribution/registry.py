"""Name -> method class registry of the dense attribution zoo: the family's
:class:`common.method_contract.MethodRegistry`."""

from __future__ import annotations

from common.method_contract import MethodRegistry

from .base import AttributionMethod, LocalInfo
from .specs import SPECS

PANEL_ORDER: tuple[str, ...] = tuple(SPECS)
"""Order of the paper's comparison panel: LA, AGI, AttEXplore, BIG, DeepLIFT, EG, FIG, GIG, IG,
MFABA, SG, SM (the order of :data:`local_attribution.specs.SPECS`)."""

REGISTRY = MethodRegistry("attribution", AttributionMethod, SPECS, info_type=LocalInfo, flag="--attr-method")
METHODS = REGISTRY.methods
"""Registry key (the original CLI name) -> method class. Filled by :func:`register`."""

register = REGISTRY.register
"""Class decorator: add a subclass of :class:`AttributionMethod` that declares ``info = LocalInfo(...)`` to
:data:`METHODS`, as a dataclass whose fields are its spec's hyper-parameters (validated on construction)."""


def list_methods() -> list[str]:
    """Registered names, in the paper's panel order."""
    return REGISTRY.names()


def get_method(name: str, **hparams: object) -> AttributionMethod:
    """Instantiate method ``name`` with hyper-parameters ``hparams`` (others keep their defaults).

    Raises:
        common.method_contract.MethodError: unknown method or hyper-parameter, or a value out of range.
    """
    return REGISTRY.get(name, **hparams)
