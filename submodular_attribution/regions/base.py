"""Region division: an RGB uint8 image -> one int label map ``H x W`` with values 0..m-1.

Each division method is a function registered under a name with its declared options (flags, defaults, ranges),
its run-folder name, its expected region count and its checks; :func:`divide` looks it up and
:class:`submodular_attribution.division.Division` binds the values. Labels are compacted so every id in 0..m-1 is
used (an empty label would be an all-black region in the original). A new division is one file here (its
function under ``@register_division``) plus its name in the import of ``regions/__init__.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from common.errors import ToolkitError
from submodular_attribution.selection.options import Option

DivisionFn = Callable[..., np.ndarray]


@dataclass(frozen=True)
class DivisionSpec:
    """A registered division.

    Attributes:
        params: keyword arguments the function accepts.
        sample_inputs: keyword arguments that differ per image (a prior map, precomputed masks), loaded per sample.
        options: the declared options (with their flags), a subset of ``params``.
        runtime: keyword arguments the driver fills from its own flags (``device``).
        folder: ``values -> run-folder name`` (None: the division's name).
        regions: ``(values, input size) -> expected region count`` (None: depends on the image).
        check: ``(values, input size) -> None``, raising a one-line error for values that cannot divide that size.
    """

    name: str
    fn: DivisionFn
    description: str
    params: tuple[str, ...]
    sample_inputs: tuple[str, ...] = ()
    options: tuple[Option, ...] = ()
    runtime: tuple[str, ...] = ()
    folder: Callable[[dict[str, Any]], str] | None = None
    regions: Callable[[dict[str, Any], int], int] | None = None
    check: Callable[[dict[str, Any], int], None] | None = None


DIVISIONS: dict[str, DivisionSpec] = {}


def register_division(name: str, description: str, params: tuple[str, ...] = (),
                      sample_inputs: tuple[str, ...] = (), **declared: Any) -> Callable[[DivisionFn], DivisionFn]:
    """Class-free registry: ``@register_division("slico", ..., options=(...), folder=..., regions=..., check=...)``
    on ``fn(image, **params) -> labels`` (``declared``: the :class:`DivisionSpec` fields after ``sample_inputs``).

    ``sample_inputs`` names the parameters that are per-image inputs (see :mod:`submodular_attribution.region_inputs`);
    declared options and runtime arguments are accepted parameters too.
    """

    def decorator(fn: DivisionFn) -> DivisionFn:
        names = tuple(o.name for o in declared.get("options", ())) + tuple(declared.get("runtime", ()))
        accepted = tuple(dict.fromkeys(params + names + sample_inputs))
        DIVISIONS[name] = DivisionSpec(name, fn, description, accepted, sample_inputs, **declared)
        return fn

    return decorator


def compact_labels(labels: np.ndarray) -> np.ndarray:
    """Renumber labels to 0..m-1 in order of first appearance of the sorted ids (drops empty ids). int32."""
    _, inverse = np.unique(labels, return_inverse=True)
    return inverse.reshape(labels.shape).astype(np.int32)


def divide(image: np.ndarray, method: str = "slico", **params) -> np.ndarray:
    """Split ``image`` (RGB uint8 ``H x W x 3``) into regions.

    Returns:
        int32 ``H x W`` label map, values 0..m-1, every value used.

    Raises:
        ToolkitError: unknown method or parameter.
    """
    try:
        spec = DIVISIONS[method]
    except KeyError:
        raise ToolkitError(f"--superpixel-algorithm {method}: unknown division; choose one of {', '.join(DIVISIONS)}") from None
    unknown = set(params) - set(spec.params)
    if unknown:
        raise ToolkitError(f"division {method} does not take {', '.join(sorted(unknown))}; it takes {', '.join(spec.params) or 'nothing'}")
    if spec.check is not None:  # the one place a division's bounds are checked (also before the model loads)
        spec.check({o.name: params.get(o.name, o.default) for o in spec.options}, min(image.shape[:2]))
    labels = compact_labels(np.asarray(spec.fn(image, **params)))
    if labels.shape != image.shape[:2]:
        raise ValueError(f"division {method} returned labels of shape {labels.shape} for an image of shape {image.shape}")
    return labels


def region_masks(labels: np.ndarray) -> np.ndarray:
    """One-hot region masks ``(m, H, W)`` bool from a label map."""
    return labels[None] == np.arange(labels.max() + 1)[:, None, None]
