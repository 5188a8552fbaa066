"""Names of the toolkit's registries, read without torch: ``--help`` lists them and flags are checked against them
before anything heavy loads (:class:`common.cli_style.LazyChoices`).

The method and selector names come from their torch-free declarations (PEP 562, on first use): the methods'
spec tables (``<family>/specs.py``, whose entry is a method's registration line) and the selector registry
(``submodular_attribution.selection``, which imports no torch), so adding a method or a selector adds its name
here too. Only the model names are a static list (the model registry imports torch);
``tests/test_entry_modules.py::test_static_names_equal_the_registries`` checks every list against its registry.
"""

from __future__ import annotations

from typing import Any

MODELS = ("efficientnet_lite0", "resnet18", "resnet50", "resnet101", "vgg16", "vgg19", "inception_v3", "maxvit_t",
          "vit_b_16", "mobilenet_v2", "efficientnet_b0", "densenet121", "swin_t", "convnext_tiny")
"""``models.list_models()`` (the registry proper; ``clip:`` / ``embed:`` families are checked by ``models``)."""


def _la_methods() -> tuple[str, ...]:
    """``local_attribution.list_methods()``: the LA spec table's names, in its order."""
    from local_attribution.specs import SPECS

    return tuple(SPECS)


def _baseline_methods() -> tuple[str, ...]:
    """``baseline_attribution.list_methods()``."""
    from baseline_attribution.specs import SPECS

    return tuple(SPECS)


def _selectors() -> tuple[str, ...]:
    """``sorted(submodular_attribution.selection.SELECTORS)``."""
    from submodular_attribution.selection import SELECTORS

    return tuple(sorted(SELECTORS))


def _report_methods() -> tuple[str, ...]:
    """``evals.report.available_methods()`` (as a set: smdl, LA and its gradient methods, the baselines)."""
    la = _la_methods()
    return ("smdl", *la, *(name for name in _baseline_methods() if name not in la))


_DERIVED = {"LA_METHODS": _la_methods, "BASELINE_METHODS": _baseline_methods, "SELECTORS": _selectors,
            "REPORT_METHODS": _report_methods}


def __getattr__(name: str) -> Any:
    if name in _DERIVED:
        return _DERIVED[name]()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
