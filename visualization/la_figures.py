"""LA's figures: percentile-clipped grey maps, colour overlays and the 12-method comparison panel.

    python -m visualization.la_figures --attributions-dir attributions --model efficientnet_lite0 --index 0 \\
        --out la_methods.png

Reads ``<data>/img_batch.pt`` and every ``{attributions-dir}/{model}_{method}_attributions.npy`` present (LA:
the file of ``--spatial_range/--max_iter/--sampling_times``) and draws one row per ``--index``: the photo and
one panel per method, in the paper's order (LA, AGI, AttEXplore, BIG, DeepLIFT, EG, FIG, GIG, IG, MFABA, SG,
SM), titled with the methods' display names.

* ``--style grey`` (default): the paper's maps (the original ``return_hm``): channel mean, clipped to the
  [80th, 99th] percentiles, scaled to [0, 1], grey colour map.
* ``--style overlay``: the original's colour overlays (trulens ``HeatmapVisualizer``-like): channel mean,
  Gaussian blur, signed-max normalisation to [-1, 1] mapped to [0, 1], JET blended 50/50 over the photo.
* ``--style heat``: channel mean scaled min-max to [0, 1], a perceptual sequential map (inferno) blended over
  the photo; ``--style jet``: the same with the originals' JET (the SMDL ``gen_cam`` look).

Every style draws one colour bar saying what the colours mean.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from common.cli_style import OneDefaultFormatter
from common.errors import ToolkitError, exit_on_toolkit_error
from visualization.heatmaps import min_max, overlay, percentile_clip, to_2d

STYLES = {
    "grey": ("gray", "attribution,\n80th -> 99th percentile"),
    "overlay": ("jet", "signed attribution / max |A|\n(0.5 = zero)"),
    "heat": ("inferno", "map, min-max scaled\n(1 = most important)"),
    "jet": ("jet", "map, min-max scaled\n(1 = most important)"),
}
"""Style -> (colour map, colour-bar label) of :func:`method_panel`."""

PANEL_ORDER = ("la", "agi", "attexplore", "big", "deeplift", "eg", "fast_ig", "guided_ig", "ig", "mfaba", "sg", "sm")
"""The paper's panel order (also ``local_attribution.list_methods()``)."""


def method_order() -> list[str]:
    """Registered method names in panel order (the registry's order when it is importable)."""
    try:
        from local_attribution import list_methods

        return list_methods()
    except ImportError:
        return list(PANEL_ORDER)


def display_name(method: str) -> str:
    """The method's display name from the local_attribution or baseline_attribution registry (``"Fast IG"``),
    else the name itself (``smdl`` -> ``SMDL``)."""
    import importlib

    for package in ("local_attribution", "baseline_attribution"):
        try:
            return str(importlib.import_module(package).METHODS[method].display_name)
        except (ImportError, KeyError, AttributeError):
            continue
    return "SMDL" if method == "smdl" else method


def to_uint8_image(image: np.ndarray) -> np.ndarray:
    """``(3, H, W)`` float in [0, 1] or ``(H, W, 3)`` uint8/float -> RGB uint8 ``(H, W, 3)``."""
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[0] == 3 and arr.shape[-1] != 3:
        arr = arr.transpose(1, 2, 0)
    if arr.dtype != np.uint8:
        arr = np.clip(np.asarray(arr, dtype=np.float64) * 255.0, 0, 255).round().astype(np.uint8)
    return arr


def grey_map(attribution: np.ndarray, low: float = 80.0, high: float = 99.0) -> np.ndarray:
    """The paper's grey map ``(H, W)`` in [0, 1] of a ``(3, H, W)`` map (LA's ``return_hm``)."""
    return percentile_clip(attribution, low, high)


def signed_max_heat(attribution: np.ndarray, blur: int = 7) -> np.ndarray:
    """Channel mean, Gaussian blur (``blur`` x ``blur`` kernel, 0 = none), divided by max |value| -> [-1, 1],
    mapped to [0, 1] (0.5 = zero attribution). ``(H, W)`` float64."""
    heat = to_2d(attribution)
    if blur > 1:
        import cv2

        k = blur if blur % 2 else blur + 1
        heat = cv2.GaussianBlur(heat, (k, k), 0)
    top = np.abs(heat).max()
    heat = heat / top if top > 0 else np.zeros_like(heat)
    return (heat + 1.0) / 2.0


def colour_overlay(image: np.ndarray, attribution: np.ndarray, blur: int = 7, alpha: float = 0.5) -> np.ndarray:
    """The original's colour overlay: :func:`signed_max_heat` in JET over the photo, RGB uint8 ``(H, W, 3)``."""
    return overlay(to_uint8_image(image), signed_max_heat(attribution, blur), alpha=alpha, cmap="jet")


def styled_map(photo: np.ndarray, attribution: np.ndarray, style: str) -> np.ndarray:
    """What one panel shows: a grey ``(H, W)`` map in [0, 1] (``grey``) or an RGB uint8 overlay."""
    if style == "grey":
        return grey_map(attribution)
    if style == "overlay":
        return colour_overlay(photo, attribution)
    return overlay(photo, min_max(to_2d(attribution)), cmap=STYLES[style][0])


def add_colour_bar(fig: object, cmap: str, label: str) -> None:
    """A vertical colour bar for [0, 1] at the figure's right edge."""
    import matplotlib
    from matplotlib.cm import ScalarMappable

    cax = fig.add_axes((0.915, 0.15, 0.012, 0.7))
    bar = fig.colorbar(ScalarMappable(matplotlib.colors.Normalize(0, 1), cmap), cax=cax)
    bar.set_label(label, fontsize=7)
    bar.ax.tick_params(labelsize=6)


def ordered_methods(methods: Sequence[str]) -> list[str]:
    """``methods`` in panel order; names the registry does not know go last, in the given order."""
    order = method_order()
    known = [m for m in order if m in methods]
    return known + [m for m in methods if m not in order]


def method_panel(
    images: Sequence[np.ndarray],
    maps: Sequence[Mapping[str, np.ndarray]] | Mapping[str, np.ndarray],
    out: str | Path,
    *,
    style: str = "grey",
    row_labels: Sequence[str] | None = None,
    panel_size: float = 1.6,
    dpi: int = 120,
) -> Path:
    """One row per image: the photo, then one panel per method (panel order, display-name titles).

    Args:
        images: photos, ``(3, H, W)`` float in [0, 1] or ``(H, W, 3)`` uint8 (one image may be passed alone).
        maps: per image, ``{method: (3, H, W) attribution}`` (one dict may be passed for one image).
        out: PNG (or any matplotlib format) to write; parent folders are created.
        style: a key of :data:`STYLES`: ``"grey"`` (the paper's percentile-clipped maps), ``"overlay"`` (signed
            JET over the photo), ``"heat"`` (inferno over the photo) or ``"jet"``.
        row_labels: optional label left of each row (e.g. the class name).

    Returns:
        The path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if isinstance(maps, Mapping):
        maps = [maps]
    images = [images] if isinstance(images, np.ndarray) and images.ndim == 3 else list(images)
    if len(images) != len(maps) or not images:
        raise ValueError(f"need one map dict per image, got {len(images)} images and {len(maps)} map dicts")
    if style not in STYLES:
        raise ValueError(f"style must be one of {', '.join(STYLES)}, got {style!r}")
    methods = ordered_methods(list(dict.fromkeys(m for row in maps for m in row)))
    cols = 1 + len(methods)
    fig, axes = plt.subplots(len(images), cols, figsize=(panel_size * cols, panel_size * len(images) + 0.3),
                             squeeze=False)
    for r, (image, row) in enumerate(zip(images, maps)):
        photo = to_uint8_image(image)
        axes[r, 0].imshow(photo)
        if r == 0:
            axes[r, 0].set_title("Image", fontsize=9)
        if row_labels is not None:
            axes[r, 0].set_ylabel(row_labels[r], fontsize=8)
        for c, method in enumerate(methods, start=1):
            ax = axes[r, c]
            if r == 0:
                ax.set_title(display_name(method), fontsize=9)
            if method not in row:
                ax.text(0.5, 0.5, "missing", ha="center", va="center", fontsize=8, transform=ax.transAxes)
                continue
            ax.imshow(styled_map(photo, row[method], style), cmap="gray" if style == "grey" else None,
                      vmin=0, vmax=1)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
    fig.tight_layout(pad=0.3, rect=(0, 0, 0.9, 1))
    add_colour_bar(fig, *STYLES[style])
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out


def la_figure(image: np.ndarray, attribution: np.ndarray, out: str | Path, dpi: int = 120) -> Path:
    """LA's single-image figure: photo, grey map, colour overlay."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    photo = to_uint8_image(image)
    fig, axes = plt.subplots(1, 3, figsize=(8.2, 2.8))
    for ax, (title, shown) in zip(axes, (("Image", photo), ("LA", grey_map(attribution)),
                                         ("LA overlay", colour_overlay(photo, attribution)))):
        ax.imshow(shown, cmap="gray" if shown.ndim == 2 else None, vmin=0, vmax=1)
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.tight_layout(pad=0.3, rect=(0, 0, 0.9, 1))
    add_colour_bar(fig, *STYLES["grey"])
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out


def load_saved_maps(attributions_dir: str | Path, model: str, methods: Sequence[str], indices: Sequence[int],
                    la_params: tuple[int, int, int] = (20, 20, 20)) -> tuple[list[dict[str, np.ndarray]], list[str]]:
    """Rows ``{method: (3, H, W)}`` for ``indices`` from the saved ``.npy`` files (memory-mapped) and the list
    of methods whose file is missing."""
    from local_attribution.generate_attributions import attribution_path

    rows: list[dict[str, np.ndarray]] = [{} for _ in indices]
    missing = []
    for method in methods:
        path = attribution_path(attributions_dir, model, method, *la_params)
        if not path.is_file():
            missing.append(method)
            continue
        arr = np.load(path, mmap_mode="r")
        for row, i in zip(rows, indices):
            if not 0 <= i < arr.shape[0]:
                raise ToolkitError(f"--index {i}: {path} holds {arr.shape[0]} maps (0 .. {arr.shape[0] - 1})")
            row[method] = np.array(arr[i], dtype=np.float32)
    return rows, missing


def run(args: argparse.Namespace) -> Path:
    from local_attribution.generate_pt import load_packed

    methods = args.methods or method_order()
    data = load_packed(args.data)
    for i in args.index:
        if not 0 <= i < data.images.shape[0]:
            raise ToolkitError(f"--index {i}: --data {args.data} holds {data.images.shape[0]} images")
    rows, missing = load_saved_maps(args.attributions_dir, args.model, methods, args.index,
                                    (args.spatial_range, args.max_iter, args.sampling_times))
    if len(missing) == len(methods):
        raise ToolkitError(f"--attributions-dir {args.attributions_dir}: no {args.model}_*_attributions.npy for "
                           f"{', '.join(methods)}; run local_attribution.generate_attributions first")
    if missing:
        print(f"no maps for {', '.join(missing)} (skipped)")
    present = [m for m in methods if m not in missing]
    rows = [{m: row[m] for m in present} for row in rows]
    images = [data.images[i].numpy() for i in args.index]
    out = method_panel(images, rows, args.out, style=args.style, row_labels=[data.names[i] for i in args.index])
    print(f"wrote {out}")
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m visualization.la_figures", description=__doc__.split("\n\n")[0],
                                     formatter_class=OneDefaultFormatter)
    parser.add_argument("--attributions-dir", default="attributions", help="folder of the _attributions.npy files")
    parser.add_argument("--model", default="efficientnet_lite0", help="model name in the file names")
    parser.add_argument("--index", type=int, nargs="+", default=[0], help="image rows of img_batch.pt to draw")
    parser.add_argument("--out", default="la_methods.png", help="figure file to write")
    parser.add_argument("--data", default="data", help="folder with img_batch.pt (from generate_pt)")
    parser.add_argument("--methods", nargs="+", default=None, help="methods to show (default: all 12, panel order)")
    parser.add_argument("--style", choices=list(STYLES), default="grey",
                        help="grey = percentile-clipped maps (paper); overlay = signed JET over the photo; "
                             "heat = perceptual (inferno) over the photo; jet = the same in JET")
    parser.add_argument("--spatial_range", type=int, default=20, help="LA file to read: s")
    parser.add_argument("--max_iter", type=int, default=20, help="LA file to read: K")
    parser.add_argument("--sampling_times", type=int, default=20, help="LA file to read: T")
    return parser


def main(argv: list[str] | None = None) -> Path:
    return exit_on_toolkit_error(run)(build_parser().parse_args(argv))


if __name__ == "__main__":
    main()
