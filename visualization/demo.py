"""One figure per explained image of an SMDL results folder (the drawing is :mod:`visualization.smdl_figure`):
the photo at its own aspect ratio, the model's view with the smallest prefix reaching 90 % of the full-image
score outlined, the best prefix (max SMDL score) only when it is smaller than the whole image, the ranking heat
map, and the insertion/deletion curves (legend below the axes). The title names the explained class, whether
it is the eval list's label or the model's top-1, and the model's top-1 when it differs.

    python -m visualization.demo --explanation-dir submodular_results/imagenet-efficientnet_lite0/slico-0.0-0.05-1.0-1.0

Figures go to ``<explanation-dir>/figures/<class>/<name>.png`` (or ``--save-dir``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common.cli_style import add_aliases, normalise_flags
from common.errors import exit_on_toolkit_error
from visualization.smdl_figure import (  # noqa: F401  (re-exported for old imports)
    class_line,
    draw_explanation_figure,
    draw_results_folder,
    outline_prefix,
)


def main(argv: list[str] | None = None) -> list[Path]:
    parser = argparse.ArgumentParser(prog="python -m visualization.demo", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--explanation-dir", required=True, help="an SMDL run folder holding json/ and npy/")
    parser.add_argument("--save-dir", dest="out", default=None,
                        help="folder for the figures (default: <explanation-dir>/figures)")
    args = add_aliases(normalise_flags(parser), {"--save-dir": ["--out"]}).parse_args(argv)
    paths = exit_on_toolkit_error(draw_results_folder)(args.explanation_dir, args.out)
    print(f"{len(paths)} figures written" + (f" under {paths[0].parent.parent}" if paths else ""))
    return paths


if __name__ == "__main__":
    main()
