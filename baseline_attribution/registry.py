"""Name -> baseline method class: the family's :class:`common.method_contract.MethodRegistry`."""

from __future__ import annotations

from common.method_contract import MethodRegistry

from .base import BaselineMethod
from .specs import SPECS

REGISTRY = MethodRegistry("baseline", BaselineMethod, SPECS, flag="--method")
METHODS = REGISTRY.methods
"""Registry key -> method class. Filled by :func:`register` when :mod:`baseline_attribution` is imported."""

register = REGISTRY.register


def list_methods() -> list[str]:
    """Registered names, in the SMDL paper's table order (:data:`baseline_attribution.specs.SPECS`)."""
    return REGISTRY.names()


def get_method(name: str, **params: object) -> BaselineMethod:
    """Instantiate method ``name`` with ``params`` (others keep their defaults).

    Raises:
        common.method_contract.MethodError: unknown method or parameter, or a value out of range (the message
            names the flag and the allowed values).
    """
    return REGISTRY.get(name, **params)
