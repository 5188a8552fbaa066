"""Figure primitives shared by the report (``evals.report``) and the figure entry modules (``visualization``):
heat maps, the method panel (one row per photo, one column per method), and the insertion animation writer.

This is the lowest figure layer: it imports no ``evals`` and no ``visualization`` module, so both can use it
(``visualization`` imports ``evals``; ``evals`` never imports ``visualization``).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from common.errors import ToolkitError


def to_2d(attribution: np.ndarray) -> np.ndarray:
    """``(3, H, W)``, ``(H, W, 3)`` or ``(H, W)`` -> ``(H, W)`` float64 by the mean over channels."""
    arr = np.asarray(attribution, dtype=np.float64)
    if arr.ndim == 3:
        arr = arr.mean(axis=0) if arr.shape[0] in (1, 3) and arr.shape[-1] not in (1, 3) else arr.mean(axis=-1)
    return arr


def percentile_clip(attribution: np.ndarray, low: float = 80.0, high: float = 99.0) -> np.ndarray:
    """LA's grey heat map (``return_hm``): channel mean, clipped to the [low, high] percentiles, scaled to [0, 1]."""
    heat = to_2d(attribution)
    lo, hi = np.percentile(heat, [low, high])
    if hi <= lo:
        return np.zeros_like(heat)
    return (np.clip(heat, lo, hi) - lo) / (hi - lo)


def min_max(heat: np.ndarray) -> np.ndarray:
    """Scale to [0, 1] (constant maps become 0)."""
    heat = np.asarray(heat, dtype=np.float64)
    span = heat.max() - heat.min()
    return (heat - heat.min()) / span if span > 0 else np.zeros_like(heat)


def overlay(image: np.ndarray, heat: np.ndarray, alpha: float = 0.5, cmap: str = "jet") -> np.ndarray:
    """Blend a [0, 1] heat map ``(H, W)`` over an RGB uint8 image ``(H, W, 3)`` (the originals' 0.5/0.5 JET)."""
    import matplotlib

    colours = matplotlib.colormaps[cmap](np.clip(heat, 0, 1))[..., :3] * 255.0
    return np.clip((1 - alpha) * image.astype(np.float64) + alpha * colours, 0, 255).astype(np.uint8)


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


def frame_indices(num_points: int, max_frames: int) -> np.ndarray:
    """Evenly spaced curve points to draw, at most ``max_frames``, always the first and the last."""
    if num_points <= max_frames:
        return np.arange(num_points)
    return np.unique(np.linspace(0, num_points - 1, max_frames).round().astype(int))


def animate_insertion(frames_at: Callable[[np.ndarray], np.ndarray], x: np.ndarray, curve: np.ndarray,
                      out: str | Path, *, preset: str = "smdl_baseline", title: str = "", fps: int = 8,
                      max_frames: int = 40, dpi: int = 80) -> Path:
    """Write the animation of one insertion curve: the image filling in beside the growing curve.

    Args:
        frames_at: ``fractions (F,) -> RGB uint8 (F, H, W, 3)``, the insertion images at those fractions of
            the image (e.g. :func:`evals.causal.insertion_images` bound to an image, a map and a preset).
        x: ``(n + 1,)`` fraction of pixels inserted at each curve point; curve: ``(n + 1,)`` scores.
        out: ``.gif`` or ``.mp4`` (MP4 needs ffmpeg; falls back to a GIF beside it).
        preset: named in the default title.
        max_frames: at most this many frames (curve points subsampled evenly); dpi: resolution of the frames.

    Returns:
        The written path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import animation

    x, curve = np.asarray(x, dtype=np.float64), np.asarray(curve, dtype=np.float64)
    if x.shape != curve.shape or x.ndim != 1 or len(x) < 2:
        raise ToolkitError(f"x {x.shape} and curve {curve.shape} must be 1-D of the same length >= 2")
    keep = frame_indices(len(x), max_frames)
    images = frames_at(x[keep])
    out = Path(out)
    use_mp4 = out.suffix == ".mp4" and shutil.which("ffmpeg") is not None
    if out.suffix == ".mp4" and not use_mp4:
        out = out.with_suffix(".gif")
        print(f"ffmpeg not found: writing {out} instead")
    fig, (ax_img, ax_curve) = plt.subplots(1, 2, figsize=(8, 3.6), gridspec_kw={"width_ratios": [1, 1.3]})
    shown = ax_img.imshow(images[0])
    ax_img.axis("off")
    (line,) = ax_curve.plot([], [], "-", color="tab:red")
    (dot,) = ax_curve.plot([], [], "o", color="tab:red")
    ax_curve.set_xlim(0, 1)
    ax_curve.set_ylim(0, max(1.0, float(curve.max())) * 1.02)
    ax_curve.set_xlabel("fraction of pixels inserted")
    ax_curve.set_ylabel("probability of the scored class")
    ax_curve.grid(alpha=0.3)
    fig.suptitle(title or f"insertion ({preset})", fontsize=10)
    fig.tight_layout()

    def draw(frame: int) -> tuple:
        j = keep[frame]
        shown.set_data(images[frame])
        line.set_data(x[: j + 1], curve[: j + 1])
        dot.set_data([x[j]], [curve[j]])
        auc = np.trapezoid(curve[: j + 1], x[: j + 1]) if j else 0.0
        ax_img.set_title(f"{x[j]:.0%} inserted, p = {curve[j]:.3f}, area so far {auc:.3f}", fontsize=9)
        return shown, line, dot

    anim = animation.FuncAnimation(fig, draw, frames=len(keep), blit=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = animation.FFMpegWriter(fps=fps) if use_mp4 else animation.PillowWriter(fps=fps)
    anim.save(out, writer=writer, dpi=dpi)
    plt.close(fig)
    return out
