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

from common.cli_style import normalise_flags
from common.errors import exit_on_toolkit_error
from common.results import report_skipped, write_json_atomic
from evals.smdl_curves import SUMMARY_NAME, evaluate_explanation_dir, format_table  # noqa: F401


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
