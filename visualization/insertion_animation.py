"""An animated insertion game: the image filling in by the map's order beside its curve growing.

    python -m visualization.insertion_animation --map maps/smdl/coffee.npy --image demo:coffee --out coffee.gif

Writes a GIF (Pillow), or an MP4 when the output ends in ``.mp4`` and ffmpeg is on the PATH (GIF otherwise,
with a note). One frame per curve point, subsampled evenly to at most ``--max-frames`` (first and last kept).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import torch

from common.cli_style import OneDefaultFormatter
from common.errors import ToolkitError, exit_on_toolkit_error
from evals.causal import get_preset, make_fill, pixel_ranks


def frame_indices(num_points: int, max_frames: int) -> np.ndarray:
    """Evenly spaced curve points to draw, at most ``max_frames``, always the first and the last."""
    if num_points <= max_frames:
        return np.arange(num_points)
    return np.unique(np.linspace(0, num_points - 1, max_frames).round().astype(int))


def inserted_images(image: np.ndarray, saliency: np.ndarray, fractions: np.ndarray, preset: str = "smdl_baseline",
                    blackbox: object = None) -> np.ndarray:
    """The insertion images uint8 ``(F, H, W, 3)``: the top ``fraction`` of pixels (by ``saliency (H, W)``)
    copied from ``image`` (RGB uint8) into the preset's insertion start (black, or RISE's blur)."""
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 255.0
    spec = get_preset(preset)
    start = make_fill(spec.insertion_start, x, blackbox, spec)
    ranks = pixel_ranks(torch.from_numpy(np.asarray(saliency, dtype=np.float32))[None])
    counts = torch.from_numpy(np.round(np.asarray(fractions) * saliency.size).astype(np.int64))
    changed = ranks[None, None, 0] < counts.view(-1, 1, 1, 1)  # (F, 1, H, W)
    frames = torch.where(changed, x, start)
    return (frames.permute(0, 2, 3, 1).clamp(0, 1) * 255).round().byte().numpy()


def animate_insertion(image: np.ndarray, saliency: np.ndarray, x: np.ndarray, curve: np.ndarray, out: str | Path,
                      *, preset: str = "smdl_baseline", title: str = "", fps: int = 8, max_frames: int = 40,
                      dpi: int = 80,
                      blackbox: object = None) -> Path:
    """Write the animation of one insertion curve.

    Args:
        image: RGB uint8 ``(H, W, 3)`` at the map's size.
        saliency: ``(H, W)`` map, higher = inserted first.
        x: ``(n + 1,)`` fraction of pixels inserted at each curve point; curve: ``(n + 1,)`` scores.
        out: ``.gif`` or ``.mp4`` (MP4 needs ffmpeg; falls back to a GIF beside it).
        preset: the insertion start shown (``smdl_baseline``/``xplique``/``la``: black; ``rise2018``: blur).
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
    if saliency.shape != image.shape[:2]:
        raise ToolkitError(f"map {saliency.shape} and image {image.shape[:2]} must have the same H x W")
    keep = frame_indices(len(x), max_frames)
    images = inserted_images(image, saliency, x[keep], preset, blackbox)
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


def run(args: argparse.Namespace) -> Path:
    from common.eval_list import load_image_ref
    from evals.causal import insertion_deletion
    from evals.metrics import load_dense_map
    from models import load_model

    path = Path(args.map)
    if not path.is_file():
        raise ToolkitError(f"--map {path}: file not found (an H x W map, a (3, H, W) map or an SMDL rank map .npy)")
    saliency, _ = load_dense_map(path)
    get_preset(args.preset)
    blackbox = load_model(args.model, device=args.device, batch_size=args.batch_size)
    image = blackbox.resize(load_image_ref(args.image))
    if saliency.shape != image.shape[:2]:
        raise ToolkitError(f"--map {path}: shape {saliency.shape} differs from the model input {image.shape[:2]}")
    targets = None if args.target is None else [args.target]
    if targets is None and get_preset(args.preset).target == "label":
        targets = [int(blackbox.predict(blackbox.to_tensor(image)).argmax())]
    res = insertion_deletion(blackbox, blackbox.to_tensor(image), torch.from_numpy(saliency)[None], args.preset,
                             targets=targets, batch_size=args.batch_size)
    out = animate_insertion(image, saliency, res.x, res.insertion_curves[0], args.out, preset=args.preset,
                            title=f"{path.stem}: insertion ({args.preset}), AUC {res.insertion_auc:.3f}",
                            fps=args.fps, max_frames=args.max_frames, blackbox=blackbox)
    print(f"wrote {out}")
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m visualization.insertion_animation",
                                     description=__doc__.split("\n\n")[0],
                                     formatter_class=OneDefaultFormatter)
    parser.add_argument("--map", required=True, help="saliency .npy: (H, W) or (3, H, W) float, or an SMDL int rank map")
    parser.add_argument("--image", required=True, help="the photo: a file path or demo:<name>")
    parser.add_argument("--out", default="insertion.gif", help=".gif, or .mp4 when ffmpeg is installed")
    parser.add_argument("--preset", default="smdl_baseline", help="insertion preset (evals.causal.PRESETS)")
    parser.add_argument("--target", type=int, default=None, help="class to score (default: the model's top-1)")
    parser.add_argument("--model", default="efficientnet_lite0", help="black-box classifier")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, or auto")
    parser.add_argument("--batch-size", type=int, default=32, help="images per model forward")
    parser.add_argument("--fps", type=int, default=8, help="frames per second")
    parser.add_argument("--max-frames", type=int, default=40, help="at most this many frames")
    return parser


def main(argv: list[str] | None = None) -> Path:
    return exit_on_toolkit_error(run)(build_parser().parse_args(argv))


if __name__ == "__main__":
    main()
