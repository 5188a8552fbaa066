"""Samples per second of the SMDL driver with and without the background loader (``--prefetch``).

    python -m scripts.benchmark_prefetch [--images 6] [--side 2048] [--region-size 56] [--depths 0 2]

The demo photos are saved as large JPEGs (``--side`` pixels, as camera images are) so that decoding, resizing
and SLICO take a share of each sample that the loader can hide behind the model's forwards. Each depth runs
the same driver (``submodular_attribution.driver``, ImageNet superpixel preset) into a fresh folder; the model is
loaded once per run as users do. Prints one row per depth: samples, seconds, samples/s, and the speed-up over depth 0.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common.cli_style import OneDefaultFormatter


def make_images(folder: Path, count: int, side: int) -> Path:
    """``count`` demo photos resized to ``side x side`` JPEGs in ``folder``; returns the eval list path."""
    from PIL import Image

    from common.demo_images import DEMO_PHOTOS, load_demo_photo
    from common.images import resize_image

    names = list(DEMO_PHOTOS)
    lines = []
    for i in range(count):
        photo = DEMO_PHOTOS[names[i % len(names)]]
        Image.fromarray(resize_image(load_demo_photo(photo.name), side)).save(folder / f"{i}.jpg", quality=95)
        lines.append(f"{i}.jpg {photo.label}")
    list_path = folder / "list.txt"
    list_path.write_text("\n".join(lines) + "\n")
    return list_path


def main(argv: list[str] | None = None) -> list[dict[str, float]]:
    parser = argparse.ArgumentParser(prog="python -m scripts.benchmark_prefetch", description=__doc__.split("\n\n")[0],
                                     formatter_class=OneDefaultFormatter)
    parser.add_argument("--images", type=int, default=6, help="number of images")
    parser.add_argument("--side", type=int, default=2048, help="side of the JPEGs written (pixels)")
    parser.add_argument("--region-size", type=int, default=56, help="SLICO region size (56: ~16 regions at 224)")
    parser.add_argument("--depths", type=int, nargs="+", default=[0, 2], help="--prefetch values to compare")
    parser.add_argument("--model", default="efficientnet_lite0", help="model name")
    parser.add_argument("--batch-size", type=int, default=16, help="images per forward")
    args = parser.parse_args(argv)

    from submodular_attribution.driver import main as smdl_main

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        list_path = make_images(root, args.images, args.side)
        for depth in args.depths:
            start = time.perf_counter()
            _, report = smdl_main("smdl_explanation_imagenet_superpixel", [
                "--Datasets", str(root), "--eval-list", str(list_path), "--model", args.model,
                "--region-size", str(args.region_size), "--batch-size", str(args.batch_size),
                "--save-dir", str(root / f"out{depth}"), "--prefetch", str(depth), "--no-progress"])
            seconds = time.perf_counter() - start
            rows.append({"prefetch": depth, "samples": report.done, "seconds": seconds,
                         "samples_per_s": report.done / seconds})
    base = rows[0]["samples_per_s"]
    print(f"{'prefetch':>8} {'samples':>7} {'seconds':>8} {'samples/s':>9} {'speed-up':>8}")
    for row in rows:
        print(f"{row['prefetch']:>8} {row['samples']:>7} {row['seconds']:>8.2f} {row['samples_per_s']:>9.3f} "
              f"{row['samples_per_s'] / base:>8.2f}")
    return rows


if __name__ == "__main__":
    main()
