"""The metric registry (Quantus-style metadata), SMDL rankings as dense maps, and highest confidence for
dense maps.

* :data:`METRICS`: name -> :class:`MetricInfo` (higher is better? needs the model? which class it scores?
  stochastic? returns a curve?), so reports and tests are generated from one table.
* :data:`MAP_METRICS`: the per-map metrics ``evals.report --scores`` adds, each one entry naming its function in
  its own file (adding a metric = one new file + one entry here).
* :func:`smdl_saliency_map`: an SMDL result (int rank map ``H x W`` or the original ``(m, H, W, 3)`` region
  stack) as a dense map, the original's ``convert_smdl_mask`` scaled to (0, 1]: the region at rank i (0-based)
  of m gets ``(m - i) / m`` (the same as :meth:`Explanation.saliency_map`). Every dense metric then scores SMDL.
* :func:`highest_confidence_dense`: the baseline version of spec smdl §5.3 on an insertion curve.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from common.errors import ToolkitError
from evals.presets import MUFIDELITY_PRESETS, PRESETS
from evals.smdl_curves import highest_confidence


def mean_over_images(values: Sequence[float] | np.ndarray) -> float:
    """The mean of per-image values ``(N,)`` (an AUC, a MuFidelity score, a column of the report); NaN when there
    are none."""
    return float(np.mean(values)) if len(values) else float("nan")


@dataclass(frozen=True)
class MetricInfo:
    """What a metric is and how to read it."""

    name: str
    higher_is_better: bool
    needs_model: bool
    scored_class: Literal["prediction", "label", "none"]
    stochastic: bool
    returns_curve: bool
    description: str


def _build_registry() -> dict[str, MetricInfo]:
    metrics: dict[str, MetricInfo] = {}
    for preset in PRESETS.values():
        metrics[f"insertion_{preset.name}"] = MetricInfo(
            f"insertion_{preset.name}", True, True, preset.target, False, True,
            f"Insertion AUC, {preset.reference}")
        metrics[f"deletion_{preset.name}"] = MetricInfo(
            f"deletion_{preset.name}", False, True, preset.target, False, True,
            f"Deletion AUC, {preset.reference}")
    for config in MUFIDELITY_PRESETS.values():
        metrics[f"mufidelity_{config.name}"] = MetricInfo(
            f"mufidelity_{config.name}", True, True, "label", True, False,
            f"MuFidelity ({config.correlation}, grid {config.grid_size}, {config.nb_samples} samples), {config.reference}")
    metrics["highest_confidence"] = MetricInfo(
        "highest_confidence", True, True, "label", False, False,
        "highest label probability reachable revealing at most a budget of the image (misclassified samples)")
    metrics.update({name: metric.info for name, metric in MAP_METRICS.items()})
    return metrics


@dataclass(frozen=True)
class MapMetric:
    """A metric of one map, one number per photo (``evals.report --scores NAME``): its metadata and where its
    function lives.

    ``function`` is ``"module:name"`` of ``f(blackbox, image, saliency, label, *, seed, batch_size) -> float`` with
    ``image`` a ``(1, 3, S, S)`` tensor in [0, 1] and ``saliency`` the ``(S, S)`` float map; it is imported on first
    use, so the registry stays torch-free (``--help``, flag checks).
    """

    info: MetricInfo
    function: str

    def load(self) -> Callable[..., float]:
        """The metric's function (imports its module)."""
        module, _, name = self.function.partition(":")
        return getattr(importlib.import_module(module), name)


MAP_METRICS: dict[str, MapMetric] = {
    "sparseness": MapMetric(MetricInfo(
        "sparseness", True, False, "none", False, False,
        "Gini index of |map| (Chalasani et al. 2020, Quantus Sparseness): 0 = attribution spread evenly, "
        "1 = one pixel holds it all"), "evals.sparseness:sparseness"),
}
"""The per-map metrics ``evals.report --scores`` can add (a new metric: one file ``evals/<metric>.py`` with its
function and one entry here)."""

METRICS: dict[str, MetricInfo] = _build_registry()


def rank_map_from_stack(stack: np.ndarray) -> np.ndarray:
    """The int16 rank map ``(H, W)`` of an original ``(m, H, W, 3)`` region stack (pure-black pixels get rank m-1)."""
    nonzero = stack.reshape(len(stack), stack.shape[1], stack.shape[2], -1).any(axis=-1)
    return np.where(nonzero.any(axis=0), nonzero.argmax(axis=0), len(stack) - 1).astype(np.int16)


def smdl_saliency_map(array: np.ndarray) -> np.ndarray:
    """float32 ``(H, W)`` in (0, 1] from an SMDL rank map ``(H, W)`` or region stack ``(m, H, W, 3)``.

    Region stack: a pixel belongs to the first region where it is non-zero; pure-black pixels (in no region's
    image) get the last rank, as the original's cumulative masks leave them out.
    """
    array = np.asarray(array)
    if array.ndim == 4:
        m = array.shape[0]
        rank_map = rank_map_from_stack(array).astype(np.int64)
    elif array.ndim == 2:
        rank_map = array.astype(np.int64)
        m = int(rank_map.max()) + 1
    else:
        raise ValueError(f"expected an (H, W) rank map or an (m, H, W, 3) region stack, got {array.shape}")
    return ((m - rank_map.astype(np.float32)) / m).astype(np.float32)


def load_dense_map(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """``(H, W)`` float32 map and, for 3-channel files, the native ``(3, H, W)`` map (LA ranks elements)."""
    array = np.load(path)
    if np.issubdtype(array.dtype, np.integer):
        return smdl_saliency_map(array), None
    array = np.asarray(array, dtype=np.float32)
    if array.ndim == 3 and array.shape[0] == 3:
        return array.mean(axis=0), array
    if array.ndim == 2:
        return array, None
    raise ToolkitError(f"{path}: expected an (H, W) or (3, H, W) map or an SMDL rank map, got {array.shape}")


def load_checked_map(path: Path, size: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`load_dense_map`, refusing what cannot be scored (one line naming the file).

    Returns:
        ``(flat (H, W), native (3, H, W) or None)``, as :func:`load_dense_map`, every value finite.

    Raises:
        ToolkitError: unreadable file, NaN/inf values, or (when ``size`` is given, the model input ``(H, W)``) a
            map of another size.
    """
    try:
        flat, native = load_dense_map(path)
    except (OSError, ValueError, EOFError) as exc:
        raise ToolkitError(f"{path}: not a readable .npy map ({exc.__class__.__name__}: {exc})") from None
    if size is not None and flat.shape != size:
        raise ToolkitError(f"{path}: map {flat.shape} is not the model input size {size}")
    for array in (flat, native):
        if array is not None and not np.isfinite(array).all():
            bad = int((~np.isfinite(array)).sum())
            raise ToolkitError(f"{path}: {bad} NaN or inf values; the map cannot be ranked (regenerate it)")
    return flat, native


def check_budgets(budgets: list[float]) -> None:
    """Highest-confidence budgets (``--budgets``) are area fractions: finite, in (0, 1].

    Raises:
        ToolkitError: naming the flag and the bad value.
    """
    for budget in budgets:
        if not math.isfinite(budget) or not 0.0 < budget <= 1.0:
            raise ToolkitError(f"--budgets {budget}: must be a fraction of the image in (0, 1], e.g. 0.25 0.5 1.0")


def highest_confidence_dense(insertion_curve: np.ndarray, budgets: list[float]) -> list[tuple[float, float] | None]:
    """Highest scored probability within each area budget from an insertion curve ``(T + 1,)`` whose point j
    reveals j/T of the image (the ``smdl_baseline`` preset), spec smdl §5.3 baseline version:
    ``h = max(score[1 : int(ρ·T) + 1])``, area = (index + 1) / T. None when the budget allows no step."""
    scores = np.asarray(insertion_curve, dtype=np.float64)[1:]
    steps = len(scores)
    areas = (np.arange(steps) + 1) / steps
    return [highest_confidence(scores.tolist(), areas.tolist(), budget) for budget in budgets]
