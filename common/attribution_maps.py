"""One call for the map of any attribution method, whatever its family:

    >>> from common.attribution_maps import compute_attribution_map
    >>> saliency = compute_attribution_map("rise", blackbox, photo, target=None, params={"n_masks": 500})

Families are plugins: each package in :data:`FAMILY_PACKAGES` exposes ``REGISTRY`` (a
:class:`common.method_contract.MethodRegistry`) and its method classes implement
``explain(blackbox, inputs, target, generator) -> maps`` (the family's ``attribute`` on a black box). SMDL's ranking
joins through :class:`SmdlRankMap`, an adapter with the same ``explain``. Callers (``evals.report``) need no ``if``
over families. The packages are imported on first use (by name, so this module stays at the bottom layer and
torch-free at import).
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

import numpy as np

from common.method_contract import (
    DEFAULT_SEED,
    DeclaredMethod,
    MethodError,
    MethodInfo,
    MethodRegistry,
    MethodSpec,
    check_finite_map,
)

SMDL = "smdl"
FAMILY_PACKAGES = ("local_attribution", "baseline_attribution")
"""Method families, in lookup order: a name registered by several (``ig``) resolves to the first."""


class SmdlRankMap(DeclaredMethod):
    """Adapter: SMDL's region ranking as a map method (:meth:`Explanation.saliency_map`, ``(m - rank) / m``).

    ``options``: ``division`` (default ``slico``), ``selector`` (default ``greedy``), ``lambdas`` (λ1..λ4, default
    the driver's 0 0.05 1 1), ``selector_options`` ({name: value}) and the division's parameters, validated by
    :class:`submodular_attribution.explainer.SubmodularExplainer` when it is built (and before the model loads by
    :func:`submodular_attribution.driver_checks.validate_smdl_params`, which reads them the same way).
    """

    info = MethodInfo(SMDL, "SMDL", needs_gradients=False, stochastic=False, model_output="regions")
    spec: ClassVar[MethodSpec] = MethodSpec(SMDL, open_params=True)

    def __init__(self, **options: Any) -> None:
        self.options = dict(options)

    def explain(self, blackbox: Any, inputs: Any, target: Any, generator: Any) -> Any:
        """float32 ``(B, S, S)`` maps for ``inputs`` ``(B, 3, S, S)`` in [0, 1] (uint8-exact, as ``to_tensor`` makes
        them) and ``target`` ``(B,)`` or None (the top-1). ``generator`` is unused (the selection is deterministic)."""
        import torch

        from submodular_attribution.driver_checks import split_smdl_options
        from submodular_attribution.explainer import SubmodularExplainer
        from submodular_attribution.objective import Lambdas

        division, selector, lambdas, selector_options, options = split_smdl_options(self.options)
        explainer = SubmodularExplainer(blackbox, division, options, None if lambdas is None else Lambdas(*lambdas),
                                        selector=selector, selector_options=selector_options)
        maps = []
        for i, x in enumerate(inputs):
            image = (x.permute(1, 2, 0) * 255).round().clamp(0, 255).to(torch.uint8).cpu().numpy()
            label = None if target is None else int(torch.as_tensor(target).reshape(-1)[i])
            maps.append(torch.from_numpy(explainer.explain(image, label).saliency_map()))
        return torch.stack(maps)


ADAPTERS: dict[str, type] = {SMDL: SmdlRankMap}
"""Map methods that are not in a family registry (looked up first)."""


def registries() -> list[MethodRegistry]:
    """The family registries, in :data:`FAMILY_PACKAGES` order (importing a package registers its methods)."""
    out = []
    for package in FAMILY_PACKAGES:
        module = importlib.import_module(package)
        module.METHODS  # noqa: B018 - first access imports every method module (registration)
        out.append(importlib.import_module(f"{package}.registry").REGISTRY)
    return out


def available_methods() -> list[str]:
    """Every map method: the adapters (``smdl``), then each family's names not already listed."""
    names = list(ADAPTERS)
    for registry in registries():
        names += [n for n in registry.names() if n not in names]
    return names


def method_spec(name: str) -> MethodSpec:
    """The torch-free spec of method ``name`` (adapters first, then the families' ``specs`` tables in order).

    Raises:
        MethodError: unknown name.
    """
    if name in ADAPTERS:
        return ADAPTERS[name].spec
    tables = [importlib.import_module(f"{package}.specs").SPECS for package in FAMILY_PACKAGES]
    for table in tables:
        if name in table:
            return table[name]
    known = [*ADAPTERS, *(n for table in tables for n in table)]
    raise MethodError(f"method {name!r}: unknown; choose one of {', '.join(dict.fromkeys(known))}")


def validate_params(name: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """``params`` of method ``name`` checked against its spec without importing torch (what a CLI calls before the
    model loads; e.g. ``evals.report --param rise.n_masks=0``).

    Raises:
        MethodError: unknown method or parameter, or a value outside its range (naming the flag and the range).
    """
    return method_spec(name).validate(dict(params or {}))


def build_method(name: str, params: dict[str, Any] | None = None) -> Any:
    """The method ``name`` with ``params``, validated on construction.

    Raises:
        MethodError: unknown name (listing every available one) or a bad parameter.
    """
    params = dict(params or {})
    if name in ADAPTERS:
        return ADAPTERS[name](**params)
    for registry in registries():
        if name in registry.methods:
            return registry.get(name, **params)
    raise MethodError(f"method {name!r}: unknown; choose one of {', '.join(available_methods())}")


def compute_attribution_map(name: str, blackbox: Any, image: np.ndarray, target: int | None = None,
                            params: dict[str, Any] | None = None, seed: int = DEFAULT_SEED) -> np.ndarray:
    """The map of method ``name`` for one photo.

    Args:
        blackbox: :class:`models.base.BlackBox` (forwards are counted in its ``forward_count``).
        image: RGB uint8 ``H x W x 3``, any size (resized to the model's input S first).
        target: explained class; None = the model's top-1.
        params: the method's parameters (see ``<family>/specs.py``); others keep their defaults.
        seed: seed of the generator stochastic methods draw from.

    Returns:
        float32 ``(S, S)`` (SMDL, baselines) or ``(3, S, S)`` (local_attribution methods), finite.

    Raises:
        MethodError: unknown method, bad parameter, or a map with NaN/inf (never returned).
    """
    import torch

    method = build_method(name, params)
    x = blackbox.to_tensor(blackbox.resize(image))
    targets = None if target is None else torch.tensor([int(target)], device=x.device)
    maps = method.explain(blackbox, x, targets, torch.Generator().manual_seed(int(seed)))
    out = np.asarray(maps[0].detach().cpu().numpy(), dtype=np.float32)
    check_finite_map(out, f"{name} map")
    return out
