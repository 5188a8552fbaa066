"""Region divisions (``slico``, ``seeds``, ``grid``, ``prior``, ``sam``, ``masks``) behind one registry: ``divide(image, method, **params)``."""

from submodular_attribution.regions import grid, masks, prior, sam, superpixel  # noqa: F401  (registers the divisions)
from submodular_attribution.regions.base import (
    DIVISIONS,
    compact_labels,
    divide,
    region_masks,
    register_division,
)

__all__ = ["DIVISIONS", "compact_labels", "divide", "region_masks", "register_division"]
