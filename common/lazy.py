"""PEP 562 lazy package exports: names load on first access, so importing a package (and ``--help``) skips torch."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, exports: dict[str, str], namespace: dict[str, Any],
                 before: Callable[[], None] | None = None) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``exports`` maps a name to the module defining it (absolute, or
    relative to ``package``); ``before`` runs once before the first load (e.g. importing modules that register
    things); each loaded value is cached in ``namespace`` (the package's ``globals()``)."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        if before is not None:
            before()
        value = getattr(importlib.import_module(exports[name], package), name)
        namespace[name] = value
        return value

    return __getattr__


FAMILY_EXPORTS = {name: ".registry" for name in ("METHODS", "REGISTRY", "get_method", "list_methods", "register")}
"""What every method-family package exports from its ``registry`` module."""


def lazy_method_family(package: str, method_modules: tuple[str, ...], namespace: dict[str, Any],
                       **exports: str) -> tuple[Callable[[str], Any], list[str]]:
    """``(__getattr__, __all__)`` of a method-family package (``local_attribution``, ``baseline_attribution``):
    :data:`FAMILY_EXPORTS` plus ``exports`` (name -> module, relative to ``package``) load on first access, after
    the first access has imported every module of ``method_modules`` (importing a method module registers its
    methods)."""

    def register_methods() -> None:
        for module in method_modules:
            importlib.import_module(f".{module}", package)

    names = {**FAMILY_EXPORTS, **exports}
    return lazy_exports(package, names, namespace, before=register_methods), list(names)
