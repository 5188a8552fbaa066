"""Pack images into LA's tensor files (the original ``generate_pt.py``).

    python -m local_attribution.generate_pt --img_path visualized_imgs          # a folder of images
    python -m local_attribution.generate_pt --eval-list demo --end 3            # the built-in demo photos
    python -m local_attribution.generate_pt --eval-list val.txt --Datasets /data/imagenet --begin 0 --end 100

Writes, in ``--save-dir`` (default ``data``; the original's ``--out`` still works):

* ``img_batch.pt``: float32 tensor ``(N, 3, S, S)``, RGB, values in [0, 1] (S = ``--size``);
* ``label_batch.pt``: int64 tensor ``(N,)``: the class of each image, or **-1 when the image has no
  label** -- ``generate_attributions`` then explains the model's predicted class;
* ``names.json``: ``{"names": [...], "labels": [...], "source": ..., "size": S}`` (row i of the tensors
  is ``names[i]``).

Differences from the original: any number of images and any format/mode (grayscale, RGBA, 16-bit ... are
converted to RGB), images are resized to ``--size`` when needed (bilinear), the tensor is float32 (the
original saved float64), labels are written too, and the writes are atomic.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common.cli_style import add_aliases, normalise_flags
from common.errors import ToolkitError, exit_on_toolkit_error
from common.eval_list import parse_eval_list, select_range
from common.validation import check_writable_dir
from local_attribution.packed import (  # noqa: F401  (re-exported: the original module's names)
    IMAGE_SUFFIXES,
    IMG_FILE,
    LABEL_FILE,
    NAMES_FILE,
    UNLABELLED,
    PackedBatch,
    list_image_files,
    load_packed,
    pack_folder,
    pack_samples,
    save_packed,
)


def run(args: argparse.Namespace) -> dict[str, Path]:
    if args.size < 8:
        raise ToolkitError(f"--size {args.size}: must be >= 8 (224 for the ImageNet models)")
    if args.eval_list is not None:
        if args.labels is not None:
            raise ToolkitError("--labels goes with --img_path; an eval list carries its own labels")
        check_writable_dir("--save-dir", args.out)
        listed = parse_eval_list(args.eval_list, args.Datasets)
        samples = select_range(listed, args.begin, args.end)
        if not samples:
            raise ToolkitError(f"--begin {args.begin} --end {args.end}: selects no line of the {len(listed)}-line eval list")
        batch = pack_samples(samples, args.size, source=str(args.eval_list))
    else:
        check_writable_dir("--save-dir", args.out)
        batch = pack_folder(args.img_path, args.size, args.labels)
    paths = save_packed(batch, args.out)
    labelled = int((batch.labels >= 0).sum())
    print(f"{len(batch.names)} images ({labelled} labelled, {len(batch.names) - labelled} use the prediction) "
          f"-> {paths['images']} {tuple(batch.images.shape)}, {paths['labels']}, {paths['names']}")
    return paths


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m local_attribution.generate_pt",
                                     description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    folder = parser.add_argument_group("images from a folder")
    folder.add_argument("--img_path", default="visualized_imgs", metavar="DIR",
                        help="folder of images (read in natural order: 0.png, 1.png, ..., 10.png); "
                             "ignored when --eval-list is given")
    folder.add_argument("--labels", default=None, metavar="FILE",
                        help="with --img_path: labels as a .pt int tensor (e.g. LA's data/label_batch.pt) or a "
                             "text file of one int per line; without it every label is -1 (= use the prediction)")
    listed = parser.add_argument_group("images from an eval list (instead of a folder)")
    listed.add_argument("--eval-list", default=None, metavar="LIST",
                        help="an eval list ('relative/path label' lines) or 'demo' for the built-in photos")
    listed.add_argument("--Datasets", default=".", metavar="DIR", help="root folder the eval-list paths are relative to")
    listed.add_argument("--begin", type=int, default=0, help="first eval-list line to use (0-based)")
    listed.add_argument("--end", type=int, default=-1, help="eval-list line to stop before; -1 = through the last")
    parser.add_argument("--size", type=int, default=224, help="side of the square images written (pixels)")
    parser.add_argument("--save-dir", dest="out", metavar="DIR", default="data",
                        help="output folder for img_batch.pt, label_batch.pt, names.json")
    return add_aliases(normalise_flags(parser), {"--save-dir": ["--out"]})


def main(argv: list[str] | None = None) -> dict[str, Path]:
    return exit_on_toolkit_error(run)(build_parser().parse_args(argv))


if __name__ == "__main__":
    main()
