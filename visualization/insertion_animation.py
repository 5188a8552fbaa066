"""An animated insertion game: the image filling in by the map's order beside its curve growing.

    python -m visualization.insertion_animation --map maps/smdl/coffee.npy --image demo:coffee --out coffee.gif

Writes a GIF (Pillow), or an MP4 when the output ends in ``.mp4`` and ffmpeg is on the PATH (GIF otherwise,
with a note). One frame per curve point, subsampled evenly to at most ``--max-frames`` (first and last kept).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from common.cli_style import OneDefaultFormatter
from common.errors import ToolkitError, exit_on_toolkit_error
from common.figures import animate_insertion, frame_indices  # noqa: F401  (frame_indices re-exported)


def run(args: argparse.Namespace) -> Path:
    import torch

    from common.eval_list import load_image_ref
    from evals.causal import get_preset, insertion_deletion, insertion_images
    from evals.metrics import load_dense_map
    from models import load_model

    path = Path(args.map)
    if not path.is_file():
        raise ToolkitError(f"--map {path}: file not found (an H x W map, a (3, H, W) map or an SMDL rank map .npy)")
    saliency, _ = load_dense_map(path)
    if not np.isfinite(saliency).all():
        raise ToolkitError(f"--map {path}: {int((~np.isfinite(saliency)).sum())} NaN or inf values; regenerate the map")
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
    out = animate_insertion(lambda f: insertion_images(image, saliency, f, args.preset, blackbox), res.x,
                            res.insertion_curves[0], args.out, preset=args.preset,
                            title=f"{path.stem}: insertion ({args.preset}), AUC {res.insertion_auc:.3f}",
                            fps=args.fps, max_frames=args.max_frames)
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
