"""Insertion / Deletion AUC of saved dense attribution maps by LA's protocol (the original ``eval.py``).

    python -m evals.eval_la --model efficientnet_lite0 --method la \\
        --spatial-range 20 --max-iter 20 --sampling-times 20 --csv-path results_la.csv

Reads ``{attributions-dir}/{key}_attributions.npy`` (from ``local_attribution.generate_attributions``) and
``<data>/img_batch.pt``, plays the insertion and deletion games (zeros substrate, 224 pixels = 672 elements
per step, softmax probability of the clean prediction; :mod:`evals.la_insertion_deletion`), writes
``{save-dir}/{key}_scores.npz`` and appends the row ``model, attr_method, spatial_range, max-iter,
samples_number, insertion, deletion`` to ``--csv_path`` (header when the file is new; ``-`` in the LA columns
for other methods; AUCs rounded to 6 decimals). ``key`` is ``{model}_la_spatial-range-S_max-iter-K_sampling-
times-T`` for LA and ``{model}_{method}`` otherwise.

Resume: an existing ``.npz`` is reused (as the original), and a row whose (model, attr_method, spatial_range,
max-iter, samples_number) is already in the CSV is not appended again. Differences from the original: the
npz also holds the mean and per-image curves, ties in the ranking are broken by element index (stable sort),
and LA's T is ``--sampling-times`` as in ``generate_attributions`` (the original's ``--samples_number`` still works).
The original's spellings ``--attr_method``, ``--prefix``, ``--attr_prefix`` still work (hidden aliases of
``--method``, ``--save-dir``, ``--attributions-dir``).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from common.cli_style import add_aliases, la_method_choices, model_choices, normalise_flags
from common.errors import ToolkitError, exit_on_toolkit_error
from common.results import atomic_write
from local_attribution.files import LA_NAME, attribution_path, run_key
from local_attribution.packed import load_packed
from local_attribution.specs import add_la_file_arguments

if TYPE_CHECKING:
    from evals.causal import CausalResult


def load_model(name: str, weights: str | None = None, device: str = "cpu", batch_size: int = 32) -> Any:
    """:func:`models.load_model`, imported on first use (keeps torch out of ``--help``)."""
    from models import load_model as load

    return load(name, weights=weights, device=device, batch_size=batch_size)


CSV_HEADER = ["model", "attr_method", "spatial_range", "max-iter", "samples_number", "insertion", "deletion"]
KEY_COLUMNS = CSV_HEADER[:5]


def scores_path(prefix: str | Path, model: str, method: str, spatial_range: int = 20, max_iter: int = 20,
                samples_number: int = 20) -> Path:
    """``{prefix}/{run_key}_scores.npz``."""
    return Path(prefix) / f"{run_key(model, method, spatial_range, max_iter, samples_number)}_scores.npz"


def result_row(model: str, method: str, spatial_range: int, max_iter: int, samples_number: int,
               insertion: float, deletion: float) -> dict[str, str]:
    """The CSV row (strings): LA parameters for LA, ``-`` otherwise; AUCs rounded to 6 decimals."""
    la = method == LA_NAME
    return {
        "model": model,
        "attr_method": method,
        "spatial_range": str(spatial_range) if la else "-",
        "max-iter": str(max_iter) if la else "-",
        "samples_number": str(samples_number) if la else "-",
        "insertion": str(round(float(insertion), 6)),
        "deletion": str(round(float(deletion), 6)),
    }


@contextlib.contextmanager
def _locked(handle: io.TextIOBase):
    """Exclusive lock on an open file while appending (parallel jobs of para_explore.sh share one CSV)."""
    try:
        import fcntl
    except ImportError:  # not on POSIX: no lock
        yield
        return
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def append_result_row(csv_path: str | Path, row: dict[str, str]) -> bool:
    """Append ``row`` unless a row with the same (model, attr_method, spatial_range, max-iter, samples_number)
    is already there; writes the header when the file is new or empty. Returns True when a row was added."""
    path = Path(csv_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = tuple(row[c] for c in KEY_COLUMNS)
    with open(path, "a+", newline="", encoding="utf-8") as handle, _locked(handle):
        handle.seek(0)
        text = handle.read()
        existing = list(csv.DictReader(io.StringIO(text))) if text.strip() else []
        if any(tuple((r.get(c) or "").strip() for c in KEY_COLUMNS) == key for r in existing):
            return False
        writer = csv.DictWriter(handle, fieldnames=CSV_HEADER)
        if not text.strip():
            writer.writeheader()
        elif not text.endswith("\n"):
            handle.write("\n")
        writer.writerow(row)
    return True


def save_scores(path: str | Path, result: CausalResult) -> None:
    """Write the npz: ``ins``, ``del`` (scalars, as the original) plus ``ins_curve``, ``del_curve`` ``(n+1,)``,
    ``ins_aucs``, ``del_aucs`` ``(N,)``, ``ins_curves``, ``del_curves`` ``(N, n+1)`` and ``targets`` ``(N,)``."""
    arrays = {
        "ins": np.float64(result.insertion_auc),
        "del": np.float64(result.deletion_auc),
        "ins_curve": result.insertion_curve,
        "del_curve": result.deletion_curve,
        "ins_aucs": result.insertion_aucs,
        "del_aucs": result.deletion_aucs,
        "ins_curves": result.insertion_curves,
        "del_curves": result.deletion_curves,
        "targets": result.targets,
    }
    atomic_write(Path(path), lambda handle: np.savez(handle, **arrays), "wb")


def load_scores(path: str | Path) -> tuple[float, float]:
    """``(insertion, deletion)`` AUCs of a saved npz."""
    with np.load(path) as data:
        return float(data["ins"]), float(data["del"])


def evaluate(args: argparse.Namespace) -> tuple[float, float]:
    """Compute (or reuse) the scores npz; returns the insertion and deletion AUCs."""
    out = scores_path(args.prefix, args.model, args.attr_method, args.spatial_range, args.max_iter,
                      args.samples_number)
    if out.is_file():
        print(f"{out} exists; reusing it")
        return load_scores(out)
    attr_file = attribution_path(args.attr_prefix, args.model, args.attr_method, args.spatial_range, args.max_iter,
                                 args.samples_number)
    if not attr_file.is_file():
        raise ToolkitError(
            f"{attr_file}: not found; run python -m local_attribution.generate_attributions --model {args.model} "
            f"--method {args.attr_method} --save-dir {args.attr_prefix}"
            + (f" --spatial-range {args.spatial_range} --max-iter {args.max_iter} --sampling-times "
               f"{args.samples_number}" if args.attr_method == LA_NAME else "")
            + " first (same --data)")
    data = load_packed(args.data)
    try:
        maps = np.load(attr_file, mmap_mode="r")
    except (OSError, ValueError) as exc:
        raise ToolkitError(f"{attr_file}: not a readable .npy ({exc}); delete it and regenerate") from exc
    if tuple(maps.shape) != tuple(data.images.shape):
        raise ToolkitError(f"{attr_file}: shape {tuple(maps.shape)} does not match the images {tuple(data.images.shape)} "
                           f"of --data {args.data}; regenerate the attributions for this data")
    model = load_model(args.model, weights=args.weights, device=args.device, batch_size=args.batch_size)
    if data.images.shape[-1] != model.input_size or data.images.shape[-2] != model.input_size:
        raise ToolkitError(f"--data {args.data}: images are {tuple(data.images.shape[-2:])}, {args.model} expects "
                           f"{model.input_size}; rerun generate_pt with --size {model.input_size}")
    try:
        from evals.la_insertion_deletion import insertion_deletion

        result = insertion_deletion(model, data.images, maps, step=224, batch_size=args.batch_size,
                                    progress=not args.no_progress)
    except ToolkitError as exc:
        raise ToolkitError(f"{attr_file}: {exc}") from exc
    save_scores(out, result)
    print(f"wrote {out} ({model.forward_count} forwards)")
    return result.insertion_auc, result.deletion_auc


def run(args: argparse.Namespace) -> dict[str, str]:
    if args.batch_size < 1:
        raise ToolkitError(f"--batch-size {args.batch_size}: must be >= 1")
    from local_attribution import list_methods

    if args.attr_method not in list_methods():
        raise ToolkitError(f"--method {args.attr_method}: unknown method; choose one of {', '.join(list_methods())}")
    insertion, deletion = evaluate(args)
    row = result_row(args.model, args.attr_method, args.spatial_range, args.max_iter, args.samples_number,
                     insertion, deletion)
    added = append_result_row(args.csv_path, row)
    print(f"{args.model} {args.attr_method}: Insertion AUC {row['insertion']}  Deletion AUC {row['deletion']}  "
          + (f"(row appended to {args.csv_path})" if added else f"(row already in {args.csv_path})"))
    return row


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m evals.eval_la", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model", default="efficientnet_lite0", type=model_choices(), metavar="NAME",
                        help="network to evaluate")
    parser.add_argument("--method", dest="attr_method", default=LA_NAME, type=la_method_choices(), metavar="METHOD",
                        help="attribution method whose maps are scored")
    add_la_file_arguments(parser, "LA only, the maps' file-name key", sampling_times_dest="samples_number")
    parser.add_argument("--save-dir", dest="prefix", metavar="DIR", default="scores",
                        help="folder for the _scores.npz files")
    parser.add_argument("--attributions-dir", dest="attr_prefix", metavar="DIR", default="attributions",
                        help="folder of the _attributions.npy files (generate_attributions' --save-dir)")
    parser.add_argument("--csv_path", default="results.csv", help="CSV the result row is appended to")
    parser.add_argument("--data", default="data", help="folder with img_batch.pt (from generate_pt)")
    parser.add_argument("--weights", default=None, help="weights file of the model (needed by torchvision models)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 or auto (cuda when available)")
    parser.add_argument("--batch-size", type=int, default=100, help="images per forward pass (the original: 100)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return add_aliases(normalise_flags(parser), {
        "--method": ["--attr-method"], "--save-dir": ["--prefix"], "--attributions-dir": ["--attr-prefix"],
        "--sampling-times": ["--samples-number"]})


def main(argv: list[str] | None = None) -> dict[str, str]:
    return exit_on_toolkit_error(run)(build_parser().parse_args(argv))


if __name__ == "__main__":
    main()
