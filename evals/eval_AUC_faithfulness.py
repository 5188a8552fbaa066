"""Insertion / Deletion AUC of saved SMDL results (the original's ``evals/eval_AUC_faithfulness.py``).

    python -m evals.eval_AUC_faithfulness --explanation-dir submodular_results/imagenet-efficientnet_lite0/slico-0.0-0.05-1.0-1.0

Reads ``json/<class>/<name>.json`` with its ``npy/<class>/<name>.npy`` (rank map or region stack), prints the
mean Insertion AUC (higher is better) and Deletion AUC (lower is better), and writes ``auc_summary.json`` in
the folder with the per-image values.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from common.cli_style import normalise_flags
from common.errors import ToolkitError, exit_on_toolkit_error
from common.results import report_skipped, write_json_atomic
from evals.smdl_curves import load_result

SUMMARY_NAME = "auc_summary.json"


def evaluate_explanation_dir(explanation_dir: str | Path) -> dict[str, Any]:
    """Per-image and mean Insertion/Deletion AUC for every result in ``explanation_dir``.

    Raises:
        ToolkitError: the folder has no ``json/`` results.
    """
    root = Path(explanation_dir)
    json_files = sorted((root / "json").glob("**/*.json"))
    if not json_files:
        raise ToolkitError(f"--explanation-dir {root}: no json results under {root / 'json'}; point it at a run folder")
    images, skipped = [], []
    for json_path in json_files:
        relative = json_path.relative_to(root / "json").with_suffix(".npy")
        npy_path = root / "npy" / relative
        if not npy_path.is_file():
            skipped.append({"json": str(json_path), "error": f"missing {npy_path}"})
            continue
        try:
            data, curves = load_result(json_path, npy_path)
        except (ValueError, KeyError, OSError) as exc:
            skipped.append({"json": str(json_path), "error": str(exc)})
            continue
        images.append({
            "name": str(relative.with_suffix("")),
            "target": data.get("target"),
            "insertion": curves.insertion_auc,
            "deletion": curves.deletion_auc,
            "regions": len(data["consistency_score"]),
            "forward_passes": data.get("forward_passes"),
            "seconds": data.get("seconds"),
        })
    insertion = [r["insertion"] for r in images]
    deletion = [r["deletion"] for r in images]
    summary = {
        "explanation_dir": str(root),
        "num_images": len(images),
        "insertion_auc": float(np.mean(insertion)) if images else float("nan"),
        "deletion_auc": float(np.mean(deletion)) if images else float("nan"),
        "images": images,
        "skipped": skipped,
    }
    return summary


def format_table(summary: dict[str, Any]) -> str:
    """A plain-text table of per-image AUCs and the means."""
    rows = [f"{'image':<32} {'class':>6} {'regions':>7} {'forwards':>8} {'seconds':>8} {'insertion':>9} {'deletion':>9}"]
    for r in summary["images"]:
        rows.append(f"{r['name'][-32:]:<32} {r['target']!s:>6} {r['regions']:>7} {r['forward_passes']!s:>8} "
                    f"{r['seconds']!s:>8} {r['insertion']:>9.4f} {r['deletion']:>9.4f}")
    rows.append(f"{'mean over ' + str(summary['num_images']) + ' images':<66} {summary['insertion_auc']:>9.4f} {summary['deletion_auc']:>9.4f}")
    return "\n".join(rows)


def run(args: argparse.Namespace) -> dict[str, Any]:
    summary = evaluate_explanation_dir(args.explanation_dir)
    if args.verbose:
        print(format_table(summary))
    print(f"Insertion AUC Score: {summary['insertion_auc']:.4f}")
    print(f"Deletion AUC Score: {summary['deletion_auc']:.4f}")
    report_skipped(summary["skipped"], len(summary["images"]))
    out = Path(args.explanation_dir) / SUMMARY_NAME
    write_json_atomic(out, summary)
    print(f"summary written to {out}")
    return summary


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m evals.eval_AUC_faithfulness", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--explanation-dir", required=True, help="an SMDL run folder holding json/ and npy/")
    parser.add_argument("--verbose", action="store_true", help="also print the per-image table")
    parser.add_argument("--allow-skipped", action="store_true",
                        help="exit 0 even when some result files were unreadable and left out of the means")
    return normalise_flags(parser)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    summary = exit_on_toolkit_error(run)(args)
    summary["exit_status"] = 0 if summary["num_images"] and (args.allow_skipped or not summary["skipped"]) else 1
    return summary


if __name__ == "__main__":
    raise SystemExit(main()["exit_status"])
