"""The SMDL result figure (a library module; ``python -m visualization.demo`` is its command line): one figure
per explained image of an SMDL results folder: the photo at its own aspect ratio, the model's view with the
smallest prefix reaching 90 % of the full-image score outlined, the best prefix (highest SMDL score, the json's
``smdl_score_max_index``) only when it is smaller than the whole image, the ranking as a heat map with a rank
colour bar, and the insertion/deletion curves with both prefixes marked (legend below the axes). The title
names the explained class, whether it is the eval list's label or the model's top-1, its full-image
probability, and the model's top-1 when it differs.

    python -m visualization.demo --explanation-dir submodular_results/imagenet-efficientnet_lite0/slico-0.0-0.05-1.0-1.0

Figures go to ``<explanation-dir>/figures/<class>/<name>.png`` (or ``--save-dir`` of ``visualization.demo``).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from common.errors import ToolkitError
from common.eval_list import load_image_ref
from common.figures import overlay
from common.images import resize_image
from evals.metrics import rank_map_from_stack
from evals.smdl_curves import best_prefix, load_result, prefix_reaching

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



def class_line(data: dict, labelled: bool = True) -> str:
    """The explained class, where it came from (the eval list's label or the model's top-1) and its full-image
    probability; the model's top-1 too when it differs."""
    name = data.get("target_name", str(data.get("target")))
    source = "the label given in the eval list" if labelled else "no label given: the model's top-1"
    line = (f"explained: {name} (class {data.get('target')}, {source}), "
            f"p = {data.get('org_score', float('nan')):.3f} on the full image")
    if data.get("predicted") is not None and data.get("predicted") != data.get("target"):
        top = data.get("predicted_name", str(data["predicted"]))
        score = data.get("predicted_score")
        line += f"; model's top-1: {top} (class {data['predicted']}" + (f", p = {score:.3f})" if score is not None else ")")
    elif labelled and data.get("predicted") is not None:
        line += " (also the model's top-1)"
    return line


def draw_explanation_figure(json_path: Path, npy_path: Path, out_path: Path, cmap: str = "inferno") -> Path:
    """Render the figure of one result; returns the written path.

    Panels: the photo at its own aspect ratio; the model's view (S x S) with the smallest prefix reaching 90 %
    of the full-image score outlined; the best prefix (max SMDL score, the json's ``smdl_score_max_index``) only
    when it is smaller than the whole image; the ranking as a heat map; the insertion/deletion curves with both
    prefixes marked and the legend below the axes (it covers no data).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.cm import ScalarMappable

    data, curves = load_result(json_path, npy_path)
    array = np.load(npy_path)
    rank_map = array if array.ndim == 2 else rank_map_from_stack(array)
    m = len(data["consistency_score"])
    photo = load_image_ref(data["image"]) if data.get("image") else np.zeros((*rank_map.shape, 3), np.uint8)
    image = resize_image(photo, rank_map.shape)
    k = best_prefix(data)
    full_score = data.get("org_score", curves.insertion_y[-1])
    k90 = prefix_reaching(data["consistency_score"], full_score, 0.9)
    heat = (m - rank_map.astype(np.float64)) / m
    show_best = k < m and curves.insertion_x[k] < 1.0
    labelled = Path(json_path).parent.name != "top1"

    panels = 4 + int(show_best)
    ratios = [photo.shape[1] / photo.shape[0], 1.0] + ([1.0] if show_best else []) + [1.1, 1.5]
    fig, axes = plt.subplots(1, panels, figsize=(3.1 * sum(ratios) + 0.6, 4.9),
                             gridspec_kw={"width_ratios": ratios})
    axes[0].imshow(photo)
    axes[0].set_title(f"photo ({photo.shape[1]} x {photo.shape[0]} px)", fontsize=9)
    view = axes[1]
    size = f"{rank_map.shape[1]} x {rank_map.shape[0]}"
    if k90 is not None:
        area90 = curves.insertion_x[k90]
        view.imshow(outline_prefix(image, rank_map < k90))
        view.set_title(f"model view ({size}): smallest prefix with\np >= 90% of the full image: {k90} of {m} "
                       f"regions, {area90:.0%}", fontsize=9)
    else:
        view.imshow(image)
        view.set_title(f"model view ({size}):\nno prefix reaches 90% of the full image", fontsize=9)
    next_ax = 2
    if show_best:
        axes[2].imshow(outline_prefix(image, rank_map < k))
        axes[2].set_title(f"best prefix (max SMDL score):\n{k} of {m} regions, {curves.insertion_x[k]:.0%} of "
                          "the image", fontsize=9)
        next_ax = 3
    heat_ax, ax = axes[next_ax], axes[next_ax + 1]
    heat_ax.imshow(overlay(image, heat, cmap=cmap))
    heat_ax.set_title("region ranking over the model view", fontsize=9)
    bar = fig.colorbar(ScalarMappable(matplotlib.colors.Normalize(1.0 / m, 1.0), cmap), ax=heat_ax, fraction=0.046,
                       pad=0.03)
    ticks = sorted({1, max(1, m // 4), max(1, m // 2), max(1, 3 * m // 4), m})
    bar.set_ticks([(m - r + 1) / m for r in ticks])
    bar.set_ticklabels([str(r) for r in ticks])
    bar.set_label("region rank (1 = most important)", fontsize=8)
    for image_ax in axes[:-1]:
        image_ax.axis("off")
    name = data.get("target_name", str(data.get("target")))
    ax.plot(curves.insertion_x, curves.insertion_y, "-o", ms=3, color="tab:red",
            label=f"insertion (AUC {curves.insertion_auc:.3f})")
    ax.plot(curves.deletion_x, curves.deletion_y, "-o", ms=3, color="tab:blue",
            label=f"deletion (AUC {curves.deletion_auc:.3f})")
    ax.fill_between(curves.insertion_x, curves.insertion_y, alpha=0.12, color="tab:red")
    if k90 is not None:
        ax.axvline(curves.insertion_x[k90], color="0.3", ls=":", lw=1.2,
                   label=f"smallest prefix with p >= 90% of the full image ({k90} regions)")
    if show_best:
        ax.plot([curves.insertion_x[k]], [curves.insertion_y[k]], "k*", ms=11,
                label=f"best prefix (max SMDL score, {k} regions): p = {curves.insertion_y[k]:.3f}")
    else:
        ax.plot([], [], " ", label="best prefix (max SMDL score) = the whole image")
    ax.set_xlabel("fraction of the image revealed / removed")
    ax.set_ylabel(f"p({name})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=7, frameon=False)
    fig.suptitle(f"{Path(json_path).stem}: {class_line(data, labelled)}\n{data.get('model', '')}, "
                 f"{data.get('division', '')}, {data.get('selector', '')}, {data.get('forward_passes', '?')} forwards",
                 fontsize=10)
    fig.tight_layout()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_path, dpi=110, bbox_inches="tight")
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

