"""One figure per explained image of an SMDL results folder: the photo with the best prefix outlined, the
ranking as a heat map with a rank colour bar, and the insertion/deletion curves with the best prefix marked.

The *best prefix* is the prefix with the highest SMDL score (the json's ``smdl_score_max_index``), the same
everywhere; the curve also marks the smallest prefix reaching 90 % of the full-image score. The title names
the explained class with its full-image probability, and the model's top-1 when it differs.

    python -m visualization.demo --explanation-dir submodular_results/imagenet-efficientnet_lite0/slico-0.0-0.05-1.0-1.0

Figures go to ``<explanation-dir>/figures/<class>/<name>.png`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from common.cli_style import OneDefaultFormatter
from common.errors import ToolkitError, exit_on_toolkit_error
from common.eval_list import load_image_ref
from common.images import resize_image
from evals.metrics import rank_map_from_stack
from evals.smdl_curves import best_prefix, load_result, prefix_reaching
from visualization.heatmaps import overlay

FULL_COVER = 0.95
"""Above this revealed fraction the prefix is not outlined: its border would trace the few excluded regions."""


def outline_prefix(image: np.ndarray, selected: np.ndarray, darken: float = 0.5) -> np.ndarray:
    """Darken the pixels outside ``selected`` (bool ``(H, W)``) and draw its border in red (as the original:
    border = dilate(mask, 3x3) - mask). No border when ``selected`` covers >= 95 % of the image."""
    out = image.astype(np.float64)
    out[~selected] *= darken
    if selected.mean() < FULL_COVER:
        mask = selected.astype(np.uint8)
        border = cv2.dilate(mask, np.ones((3, 3), np.uint8)) - mask
        out[border.astype(bool)] = (255, 0, 0)
    return out.astype(np.uint8)


def class_line(data: dict) -> str:
    """The explained class and its full-image probability; the model's top-1 too when it differs."""
    name = data.get("target_name", str(data.get("target")))
    line = f"explained: {name} (class {data.get('target')}), p = {data.get('org_score', float('nan')):.3f} on the full image"
    if data.get("predicted") is not None and data.get("predicted") != data.get("target"):
        top = data.get("predicted_name", str(data["predicted"]))
        score = data.get("predicted_score")
        line += f"; model's top-1: {top} (class {data['predicted']}" + (f", p = {score:.3f})" if score is not None else ")")
    return line


def draw_explanation_figure(json_path: Path, npy_path: Path, out_path: Path, cmap: str = "inferno") -> Path:
    """Render the three-panel figure of one result; returns the written path.

    The best prefix is the one maximising the SMDL score (the json's ``smdl_score_max_index``); the dotted
    line marks the smallest prefix reaching 90 % of the full-image score.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.cm import ScalarMappable

    data, curves = load_result(json_path, npy_path)
    array = np.load(npy_path)
    rank_map = array if array.ndim == 2 else rank_map_from_stack(array)
    m = len(data["consistency_score"])
    image = resize_image(load_image_ref(data["image"]), rank_map.shape) if data.get("image") else np.zeros((*rank_map.shape, 3), np.uint8)
    k = best_prefix(data)
    full_score = data.get("org_score", curves.insertion_y[-1])
    k90 = prefix_reaching(data["consistency_score"], full_score, 0.9)
    heat = (m - rank_map.astype(np.float64)) / m

    fig, axes = plt.subplots(1, 3, figsize=(13.5, 4.6), gridspec_kw={"width_ratios": [1, 1.1, 1.35]})
    name = data.get("target_name", str(data.get("target")))
    area = curves.insertion_x[k]
    axes[0].imshow(outline_prefix(image, rank_map < k))
    note = "" if area < FULL_COVER else "; not outlined (>= 95% kept)"
    axes[0].set_title(f"best prefix (max SMDL score): {k} of {m} regions,\n{area:.0%} of the image{note}", fontsize=9)
    axes[1].imshow(overlay(image, heat, cmap=cmap))
    axes[1].set_title("region ranking over the photo", fontsize=9)
    bar = fig.colorbar(ScalarMappable(matplotlib.colors.Normalize(1.0 / m, 1.0), cmap), ax=axes[1], fraction=0.046, pad=0.03)
    ticks = sorted({1, max(1, m // 4), max(1, m // 2), max(1, 3 * m // 4), m})
    bar.set_ticks([(m - r + 1) / m for r in ticks])
    bar.set_ticklabels([str(r) for r in ticks])
    bar.set_label("region rank (1 = most important)", fontsize=8)
    for ax in axes[:2]:
        ax.axis("off")
    ax = axes[2]
    ax.plot(curves.insertion_x, curves.insertion_y, "-o", ms=3, color="tab:red", label=f"insertion (AUC {curves.insertion_auc:.3f})")
    ax.plot(curves.deletion_x, curves.deletion_y, "-o", ms=3, color="tab:blue", label=f"deletion (AUC {curves.deletion_auc:.3f})")
    ax.fill_between(curves.insertion_x, curves.insertion_y, alpha=0.12, color="tab:red")
    ax.axvline(area, color="k", ls="--", lw=1)
    ax.plot([area], [curves.insertion_y[k]], "k*", ms=12, label=f"best prefix (max SMDL score): p = {curves.insertion_y[k]:.3f}")
    if k90 is not None:
        ax.axvline(curves.insertion_x[k90], color="0.4", ls=":", lw=1,
                   label=f"smallest prefix with p >= 90% of full image: {k90} regions")
    ax.set_xlabel("fraction of the image revealed / removed")
    ax.set_ylabel(f"p({name})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="center right", fontsize=7)
    fig.suptitle(f"{Path(json_path).stem}: {class_line(data)}\n{data.get('model', '')}, {data.get('division', '')}, "
                 f"{data.get('selector', '')}, {data.get('forward_passes', '?')} forwards", fontsize=10)
    fig.tight_layout()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_path, dpi=110)
    plt.close(fig)
    return out_path


def draw_results_folder(explanation_dir: str | Path, out_dir: str | Path | None = None) -> list[Path]:
    """One figure per json of ``explanation_dir``; returns the written paths.

    Raises:
        ToolkitError: no results in the folder.
    """
    root = Path(explanation_dir)
    json_files = sorted((root / "json").glob("**/*.json"))
    if not json_files:
        raise ToolkitError(f"--explanation-dir {root}: no json results under {root / 'json'}")
    out_root = Path(out_dir) if out_dir else root / "figures"
    written = []
    for json_path in json_files:
        relative = json_path.relative_to(root / "json")
        npy_path = root / "npy" / relative.with_suffix(".npy")
        if not npy_path.is_file():
            print(f"skipped {json_path}: missing {npy_path}")
            continue
        try:
            written.append(draw_explanation_figure(json_path, npy_path, out_root / relative.with_suffix(".png")))
        except (ToolkitError, ValueError, KeyError, json.JSONDecodeError) as exc:
            print(f"skipped {json_path}: {exc}")
    return written


def main(argv: list[str] | None = None) -> list[Path]:
    parser = argparse.ArgumentParser(prog="python -m visualization.demo", description=__doc__.split("\n\n")[0],
                                     formatter_class=OneDefaultFormatter)
    parser.add_argument("--explanation-dir", required=True, help="an SMDL run folder holding json/ and npy/")
    parser.add_argument("--out", default=None, help="folder for the figures (default: <explanation-dir>/figures)")
    args = parser.parse_args(argv)
    paths = exit_on_toolkit_error(draw_results_folder)(args.explanation_dir, args.out)
    print(f"{len(paths)} figures written" + (f" under {paths[0].parent.parent}" if paths else ""))
    return paths


if __name__ == "__main__":
    main()
