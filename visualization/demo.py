"""One figure per explained image of an SMDL results folder: the photo with the best prefix outlined, the
ranking as a heat map, and the insertion/deletion curves with the best prefix marked.

    python -m visualization.demo --explanation-dir submodular_results/imagenet-efficientnet_lite0/slico-0.0-0.05-1.0-1.0

Figures go to ``<explanation-dir>/figures/<class>/<name>.png`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from common.errors import ToolkitError, exit_on_toolkit_error
from common.eval_list import load_image_ref
from common.images import resize_image
from evals.metrics import rank_map_from_stack
from evals.smdl_curves import best_prefix, load_result
from visualization.heatmaps import overlay


def outline_prefix(image: np.ndarray, selected: np.ndarray, darken: float = 0.5) -> np.ndarray:
    """Darken the pixels outside ``selected`` (bool ``(H, W)``) and draw its border in red (as the original:
    border = dilate(mask, 3x3) - mask)."""
    out = image.astype(np.float64)
    out[~selected] *= darken
    mask = selected.astype(np.uint8)
    border = cv2.dilate(mask, np.ones((3, 3), np.uint8)) - mask
    out[border.astype(bool)] = (255, 0, 0)
    return out.astype(np.uint8)


def draw_explanation_figure(json_path: Path, npy_path: Path, out_path: Path) -> Path:
    """Render the three-panel figure of one result; returns the written path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data, curves = load_result(json_path, npy_path)
    array = np.load(npy_path)
    rank_map = array if array.ndim == 2 else rank_map_from_stack(array)
    m = len(data["consistency_score"])
    image = resize_image(load_image_ref(data["image"]), rank_map.shape) if data.get("image") else np.zeros((*rank_map.shape, 3), np.uint8)
    k = best_prefix(data["consistency_score"])
    heat = (m - rank_map.astype(np.float64)) / m

    fig, axes = plt.subplots(1, 3, figsize=(13, 4.4), gridspec_kw={"width_ratios": [1, 1, 1.35]})
    name = data.get("target_name", str(data.get("target")))
    axes[0].imshow(outline_prefix(image, rank_map < k))
    axes[0].set_title(f"best {k} of {m} regions ({curves.insertion_x[k]:.0%} of the image)", fontsize=10)
    axes[1].imshow(overlay(image, heat))
    axes[1].set_title("region ranking (red = most important)", fontsize=10)
    for ax in axes[:2]:
        ax.axis("off")
    ax = axes[2]
    ax.plot(curves.insertion_x, curves.insertion_y, "-o", ms=3, color="tab:red", label=f"insertion (AUC {curves.insertion_auc:.3f})")
    ax.plot(curves.deletion_x, curves.deletion_y, "-o", ms=3, color="tab:blue", label=f"deletion (AUC {curves.deletion_auc:.3f})")
    ax.fill_between(curves.insertion_x, curves.insertion_y, alpha=0.12, color="tab:red")
    ax.axvline(curves.insertion_x[k], color="k", ls="--", lw=1)
    ax.plot([curves.insertion_x[k]], [curves.insertion_y[k]], "k*", ms=12, label=f"best prefix: p = {curves.insertion_y[k]:.3f}")
    ax.set_xlabel("fraction of the image revealed / removed")
    ax.set_ylabel(f"p({name})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="center right", fontsize=8)
    fig.suptitle(f"{Path(json_path).stem}: {name} (class {data.get('target')}), {data.get('model', '')}, "
                 f"{data.get('division', '')}, {data.get('forward_passes', '?')} forwards", fontsize=11)
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
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--explanation-dir", required=True, help="an SMDL run folder holding json/ and npy/")
    parser.add_argument("--out", default=None, help="folder for the figures (default: <explanation-dir>/figures)")
    args = parser.parse_args(argv)
    paths = exit_on_toolkit_error(draw_results_folder)(args.explanation_dir, args.out)
    print(f"{len(paths)} figures written" + (f" under {paths[0].parent.parent}" if paths else ""))
    return paths


if __name__ == "__main__":
    main()
