"""LA's figures: percentile-clipped grey maps, colour overlays and the 12-method comparison panel.

    python -m visualization.la_figures --attributions-dir attributions --model efficientnet_lite0 --index 0 \\
        --out la_methods.png

Reads ``<data>/img_batch.pt`` and every ``{attributions-dir}/{model}_{method}_attributions.npy`` present (LA:
the file of ``--spatial-range/--max-iter/--sampling-times``) and draws one row per ``--index``: the photo and
one panel per method, in the paper's order (LA, AGI, AttEXplore, BIG, DeepLIFT, EG, FIG, GIG, IG, MFABA, SG,
SM), titled with the methods' display names (``--methods`` to choose), into the figure file ``--out``.

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
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from common.cli_style import add_aliases, normalise_flags
from common.errors import ToolkitError, exit_on_toolkit_error
from common.figures import (  # noqa: F401  (re-exported for old imports)
    PANEL_ORDER,
    STYLES,
    add_colour_bar,
    colour_overlay,
    grey_map,
    method_order,
    method_panel,
    ordered_methods,
    to_uint8_image,
)
from local_attribution.specs import add_la_file_arguments, add_methods_argument


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
    from local_attribution.files import attribution_path

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
    from local_attribution.packed import load_packed

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
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_methods_argument(parser, "show")
    parser.add_argument("--attributions-dir", default="attributions", metavar="DIR",
                        help="folder of the _attributions.npy files")
    parser.add_argument("--model", default="efficientnet_lite0", help="model name in the file names")
    parser.add_argument("--index", type=int, nargs="+", default=[0], help="image rows of img_batch.pt to draw")
    parser.add_argument("--out", default="la_methods.png", help="figure file to write")
    parser.add_argument("--data", default="data", help="folder with img_batch.pt (from generate_pt)")
    parser.add_argument("--style", choices=list(STYLES), default="grey",
                        help="grey = percentile-clipped maps (paper); overlay = signed JET over the photo; "
                             "heat = perceptual (inferno) over the photo; jet = the same in JET")
    add_la_file_arguments(parser, "LA file to read")
    return add_aliases(normalise_flags(parser), {"--attributions-dir": ["--attr-prefix", "--prefix"]})


def main(argv: list[str] | None = None) -> Path:
    return exit_on_toolkit_error(run)(build_parser().parse_args(argv))


if __name__ == "__main__":
    main()
