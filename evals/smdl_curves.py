"""Insertion / Deletion from saved SMDL results, exactly as the original ``eval_AUC_faithfulness``
(specs/smdl.md §5.1): the x-axis is the revealed pixel area, the y-axis the saved score curves, the AUC the
trapezoidal rule on that non-uniform x."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from common.errors import ToolkitError


def trapezoid_auc(x: np.ndarray, y: np.ndarray) -> float:
    """Area under y(x) by the trapezoidal rule (``sklearn.metrics.auc``); x must be monotonic."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    dx = np.diff(x)
    if np.any(dx < 0) and np.any(dx > 0):
        raise ValueError("x must be monotonic")
    return float(abs(np.sum(dx * (y[1:] + y[:-1]) / 2.0)))


def areas_from_rank_map(rank_map: np.ndarray, num_regions: int) -> tuple[np.ndarray, np.ndarray]:
    """Insertion x (a_0..a_m) and deletion x (1 - b_0 .. 1 - b_m) from an int rank map ``(H, W)``.

    Every pixel counts as revealed when its region is (black pixels included, unlike the region-stack path).
    """
    counts = np.bincount(rank_map.ravel().astype(np.int64), minlength=num_regions)[:num_regions]
    inserted = np.concatenate([[0.0], np.cumsum(counts) / rank_map.size])
    return inserted, inserted.copy()


def areas_from_region_stack(stack: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Insertion and deletion x from the original ``(m, H, W, 3)`` ranked-region stack.

    As the original: a pixel is revealed when the channel sum of the cumulative image is non-zero, so pixels
    that are pure black in the photo never count (a_m may be slightly below 1).
    """
    stack = stack.astype(np.int64)
    full = stack.sum(axis=0)
    total = full.shape[0] * full.shape[1]
    cumulative = np.cumsum(stack, axis=0)  # (m, H, W, 3)
    inserted = (cumulative.sum(axis=-1) != 0).reshape(len(stack), -1).sum(axis=1) / total
    remaining = ((full[None] - cumulative).sum(axis=-1) != 0).reshape(len(stack), -1).sum(axis=1) / total
    b = np.concatenate([[(full.sum(axis=-1) != 0).sum() / total], remaining])
    return np.concatenate([[0.0], inserted]), 1.0 - b


@dataclass
class CurveResult:
    insertion_x: np.ndarray
    insertion_y: np.ndarray
    deletion_x: np.ndarray
    deletion_y: np.ndarray

    @property
    def insertion_auc(self) -> float:
        return trapezoid_auc(self.insertion_x, self.insertion_y)

    @property
    def deletion_auc(self) -> float:
        return trapezoid_auc(self.deletion_x, self.deletion_y)


def smdl_curves(consistency: list[float], collaboration: list[float], insertion_x: np.ndarray,
                deletion_x: np.ndarray) -> CurveResult:
    """Insertion y = [p(∅), p(S_1) .. p(S_m)], deletion y = [p(V), p(V∖S_1) .. p(V∖S_m)] from the saved curves
    (p(∅) = 1 - collaboration[m-1], p(V) = consistency[m-1])."""
    cons = np.asarray(consistency, dtype=np.float64)
    colla = np.asarray(collaboration, dtype=np.float64)
    insertion_y = np.concatenate([[1.0 - colla[-1]], cons])
    deletion_y = np.concatenate([[cons[-1]], 1.0 - colla])
    return CurveResult(np.asarray(insertion_x), insertion_y, np.asarray(deletion_x), deletion_y)


def load_result(json_path: Path, npy_path: Path) -> tuple[dict, CurveResult]:
    """Read one saved explanation (either npy layout) and its Insertion/Deletion curves."""
    data = json.loads(Path(json_path).read_text())
    array = np.load(npy_path)
    m = len(data["consistency_score"])
    if array.ndim == 4:
        ins_x, del_x = areas_from_region_stack(array)
    elif array.ndim == 2:
        if int(array.max()) + 1 != m or int(array.min()) < 0:
            raise ValueError(f"{npy_path}: rank map has {int(array.max()) + 1} regions but {json_path} has {m} scores")
        ins_x, del_x = areas_from_rank_map(array, m)
    else:
        raise ValueError(f"{npy_path}: expected an (H, W) rank map or an (m, H, W, 3) region stack, got {array.shape}")
    if len(ins_x) != m + 1:
        raise ValueError(f"{npy_path}: {len(ins_x) - 1} regions but {json_path} has {m} scores")
    return data, smdl_curves(data["consistency_score"], data["collaboration_score"], ins_x, del_x)


def best_prefix(data: dict) -> int:
    """Number of regions of the best prefix, defined once for every figure: the prefix maximising the SMDL
    score, i.e. the json's ``smdl_score_max_index`` + 1 (argmax of ``smdl_score`` when the key is absent)."""
    if "smdl_score_max_index" in data:
        return int(data["smdl_score_max_index"]) + 1
    return int(np.argmax(data["smdl_score"])) + 1


def prefix_reaching(consistency: list[float], full_score: float, fraction: float = 0.9) -> int | None:
    """Smallest number of regions whose kept image scores at least ``fraction`` of the full-image score, or
    None when no prefix does."""
    reached = np.flatnonzero(np.asarray(consistency, dtype=np.float64) >= fraction * full_score)
    return int(reached[0]) + 1 if len(reached) else None


def highest_confidence(consistency: list[float], areas: list[float], budget: float) -> tuple[float, float] | None:
    """Highest target probability reachable revealing at most ``budget`` of the image, and the area there
    (specs/smdl.md §5.3). ``areas[j]`` is the revealed fraction after j+1 regions. None when even the first
    region is larger than the budget."""
    allowed = int(np.sum(np.asarray(areas) <= budget + 1e-12))
    if allowed == 0:
        return None
    best = int(np.argmax(consistency[:allowed]))
    return float(consistency[best]), float(areas[best])


SUMMARY_NAME = "auc_summary.json"



def evaluate_explanation_dir(explanation_dir: str | Path) -> dict[str, Any]:
    """Per-image and mean Insertion/Deletion AUC for every result in ``explanation_dir``.

    Raises:
        ToolkitError: the folder has no ``json/`` results.
    """
    root = Path(explanation_dir)
    json_files = sorted((root / "json").glob("**/*.json"))
    if not json_files:
        raise ToolkitError(f"--explanation-dir {root}: no json results under {root / 'json'}; point it at a run folder")
    images, skipped = [], []
    for json_path in json_files:
        relative = json_path.relative_to(root / "json").with_suffix(".npy")
        npy_path = root / "npy" / relative
        if not npy_path.is_file():
            skipped.append({"json": str(json_path), "error": f"missing {npy_path}"})
            continue
        try:
            data, curves = load_result(json_path, npy_path)
        except (ValueError, KeyError, OSError) as exc:
            skipped.append({"json": str(json_path), "error": str(exc)})
            continue
        images.append({
            "name": str(relative.with_suffix("")),
            "target": data.get("target"),
            "insertion": curves.insertion_auc,
            "deletion": curves.deletion_auc,
            "regions": len(data["consistency_score"]),
            "forward_passes": data.get("forward_passes"),
            "seconds": data.get("seconds"),
        })
    insertion = [r["insertion"] for r in images]
    deletion = [r["deletion"] for r in images]
    summary = {
        "explanation_dir": str(root),
        "num_images": len(images),
        "insertion_auc": float(np.mean(insertion)) if images else float("nan"),
        "deletion_auc": float(np.mean(deletion)) if images else float("nan"),
        "images": images,
        "skipped": skipped,
    }
    return summary



def format_table(summary: dict[str, Any]) -> str:
    """A plain-text table of per-image AUCs and the means."""
    rows = [f"{'image':<32} {'class':>6} {'regions':>7} {'forwards':>8} {'seconds':>8} {'insertion':>9} {'deletion':>9}"]
    for r in summary["images"]:
        rows.append(f"{r['name'][-32:]:<32} {r['target']!s:>6} {r['regions']:>7} {r['forward_passes']!s:>8} "
                    f"{r['seconds']!s:>8} {r['insertion']:>9.4f} {r['deletion']:>9.4f}")
    rows.append(f"{'mean over ' + str(summary['num_images']) + ' images':<66} {summary['insertion_auc']:>9.4f} {summary['deletion_auc']:>9.4f}")
    return "\n".join(rows)

