"""Region division: an RGB uint8 image -> one int label map ``H x W`` with values 0..m-1.

Each division method is a function registered under a name; :func:`divide` looks it up. Labels are
compacted so every id in 0..m-1 is used (an empty label would be an all-black region in the original).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from common.errors import ToolkitError

DivisionFn = Callable[..., np.ndarray]


@dataclass(frozen=True)
class DivisionSpec:
    name: str
    fn: DivisionFn
    description: str
    params: tuple[str, ...]  # keyword arguments the function accepts
    # keyword arguments that differ per image (a prior map, precomputed masks); the driver loads them per sample
    sample_inputs: tuple[str, ...] = ()


DIVISIONS: dict[str, DivisionSpec] = {}


def register_division(name: str, description: str, params: tuple[str, ...] = (),
                      sample_inputs: tuple[str, ...] = ()) -> Callable[[DivisionFn], DivisionFn]:
    """Class-free registry: ``@register_division("slico", ...)`` on ``fn(image, **params) -> labels``.

    ``sample_inputs`` names the parameters that are per-image inputs (see :mod:`submodular_attribution.region_inputs`).
    """

    def decorator(fn: DivisionFn) -> DivisionFn:
        DIVISIONS[name] = DivisionSpec(name, fn, description, params + sample_inputs, sample_inputs)
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
    labels = compact_labels(np.asarray(spec.fn(image, **params)))
    if labels.shape != image.shape[:2]:
        raise ValueError(f"division {method} returned labels of shape {labels.shape} for an image of shape {image.shape}")
    return labels


def region_masks(labels: np.ndarray) -> np.ndarray:
    """One-hot region masks ``(m, H, W)`` bool from a label map."""
    return labels[None] == np.arange(labels.max() + 1)[:, None, None]
