"""An animated insertion game: the image filling in by the map's order beside its curve growing.

    python -m visualization.insertion_animation --map maps/smdl/coffee.npy --image demo:coffee --out coffee.gif

Writes a GIF (Pillow), or an MP4 when the output ends in ``.mp4`` and ffmpeg is on the PATH (GIF otherwise,
with a note). One frame per curve point, subsampled evenly to at most ``--max-frames`` (first and last kept).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common.errors import ToolkitError, exit_on_toolkit_error
from common.figures import animate_insertion, frame_indices  # noqa: F401  (frame_indices re-exported)
from common.validation import check_range
from evals.entry_flags import add_model_flags, check_model_flags, entry_parser, load_blackbox
from evals.presets import PRESETS, get_preset


def run(args: argparse.Namespace) -> Path:
    """Check the flags, the map file and the photo (before torch is imported), then play the insertion game and
    write the animation; returns its path."""
    from common.eval_list import load_image_ref
    from evals.metrics import load_checked_map

    path = Path(args.map)
    if not path.is_file():
        raise ToolkitError(f"--map {path}: file not found (an H x W map, a (3, H, W) map or an SMDL rank map .npy)")
    try:
        saliency, _ = load_checked_map(path)
    except ToolkitError as exc:
        raise ToolkitError(f"--map {exc}") from None
    preset = get_preset(args.preset)
    check_model_flags(args)
    check_range("--fps", args.fps, 1)
    check_range("--max-frames", args.max_frames, 2)
    if not args.image.startswith("demo:") and not Path(args.image).is_file():
        raise ToolkitError(f"--image {args.image}: file not found (a photo file or demo:<name>)")
    try:
        photo = load_image_ref(args.image)
    except ToolkitError as exc:
        raise ToolkitError(f"--image {args.image}: {str(exc).removeprefix(args.image + ': ')}") from None

    import torch

    from evals.causal import insertion_deletion, insertion_images

    blackbox = load_blackbox(args)
    image = blackbox.resize(photo)
    if saliency.shape != image.shape[:2]:
        raise ToolkitError(f"--map {path}: shape {saliency.shape} differs from the model input {image.shape[:2]}")
    targets = None if args.target is None else [args.target]
    if targets is None and preset.target == "label":
        targets = [int(blackbox.predict(blackbox.to_tensor(image)).argmax())]
    res = insertion_deletion(blackbox, blackbox.to_tensor(image), torch.from_numpy(saliency)[None], preset,
                             targets=targets, batch_size=args.batch_size)
    out = animate_insertion(lambda f: insertion_images(image, saliency, f, preset, blackbox), res.x,
                            res.insertion_curves[0], args.out, preset=args.preset,
                            title=f"{path.stem}: insertion ({args.preset}), AUC {res.insertion_auc:.3f}",
                            fps=args.fps, max_frames=args.max_frames)
    print(f"wrote {out}")
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = entry_parser("visualization.insertion_animation", __doc__)
    parser.add_argument("--map", required=True, help="saliency .npy: (H, W) or (3, H, W) float, or an SMDL int rank map")
    parser.add_argument("--image", required=True, help="the photo: a file path or demo:<name>")
    parser.add_argument("--out", default="insertion.gif", help=".gif, or .mp4 when ffmpeg is installed")
    parser.add_argument("--preset", default="smdl_baseline", choices=list(PRESETS), help="insertion preset")
    parser.add_argument("--target", type=int, default=None, help="class to score (default: the model's top-1)")
    add_model_flags(parser)
    parser.add_argument("--fps", type=int, default=8, help="frames per second")
    parser.add_argument("--max-frames", type=int, default=40, help="at most this many frames")
    return parser


def main(argv: list[str] | None = None) -> Path:
    return exit_on_toolkit_error(run)(build_parser().parse_args(argv))


if __name__ == "__main__":
    main()
