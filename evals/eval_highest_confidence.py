"""Highest confidence on (misclassified) samples: the best target probability a search budget can reach
(the original's ``evaluation_mistake_debug_ours.py``, specs/smdl.md §5.3).

    python -m evals.eval_highest_confidence --explanation-dir DIR [--budgets 0.25 0.5 0.75 1.0]

For each budget ρ: h = max of the consistency curve over the prefixes whose revealed area a_j <= ρ (areas as
in Insertion, §5.1); prints mean ± std of h and of the area where it is reached ("retention"), and writes
``highest_confidence.json`` in DIR. Samples whose first region alone exceeds ρ are counted and left out.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from common.cli_style import normalise_flags
from common.errors import ToolkitError, exit_on_toolkit_error
from common.results import report_skipped, write_json_atomic
from evals.smdl_curves import highest_confidence, load_result

SUMMARY_NAME = "highest_confidence.json"


def evaluate_highest_confidence(explanation_dir: str | Path, budgets: list[float]) -> dict[str, Any]:
    """Per-budget mean/std of the highest confidence and of its area over every result in the folder."""
    root = Path(explanation_dir)
    json_files = sorted((root / "json").glob("**/*.json"))
    if not json_files:
        raise ToolkitError(f"--explanation-dir {root}: no json results under {root / 'json'}")
    per_budget: dict[float, list[tuple[float, float]]] = {b: [] for b in budgets}
    excluded = {b: 0 for b in budgets}
    read = 0
    skipped: list[dict[str, str]] = []
    for json_path in json_files:
        npy_path = root / "npy" / json_path.relative_to(root / "json").with_suffix(".npy")
        try:
            data, curves = load_result(json_path, npy_path)
        except (ValueError, KeyError, OSError) as exc:
            skipped.append({"json": str(json_path), "error": str(exc)})
            continue
        read += 1
        areas = curves.insertion_x[1:].tolist()
        for budget in budgets:
            best = highest_confidence(data["consistency_score"], areas, budget)
            if best is None:
                excluded[budget] += 1
            else:
                per_budget[budget].append(best)
    rows = []
    for budget in budgets:
        values = np.asarray(per_budget[budget], dtype=np.float64).reshape(-1, 2)
        rows.append({
            "budget": budget,
            "samples": len(values),
            "excluded": excluded[budget],
            "highest_confidence_mean": float(values[:, 0].mean()) if len(values) else float("nan"),
            "highest_confidence_std": float(values[:, 0].std()) if len(values) else float("nan"),
            "area_mean": float(values[:, 1].mean()) if len(values) else float("nan"),
            "area_std": float(values[:, 1].std()) if len(values) else float("nan"),
        })
    return {"explanation_dir": str(root), "num_images": read, "budgets": rows, "skipped": skipped}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m evals.eval_highest_confidence", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--explanation-dir", required=True, help="an SMDL run folder holding json/ and npy/")
    parser.add_argument("--budgets", type=float, nargs="+", default=[0.25, 0.5, 0.75, 1.0],
                        help="search budgets: largest fraction of the image that may be revealed")
    parser.add_argument("--allow-skipped", action="store_true",
                        help="exit 0 even when some result files were unreadable and left out of the means")
    args = normalise_flags(parser).parse_args(argv)
    summary = exit_on_toolkit_error(evaluate_highest_confidence)(args.explanation_dir, args.budgets)
    print(f"{'budget':>6} {'samples':>7} {'highest confidence':>20} {'area':>16}")
    for row in summary["budgets"]:
        print(f"{row['budget']:>6.2f} {row['samples']:>7} {row['highest_confidence_mean']:>10.4f} ± {row['highest_confidence_std']:<7.4f}"
              f" {row['area_mean']:>7.4f} ± {row['area_std']:<6.4f}")
    report_skipped(summary["skipped"], summary["num_images"])
    write_json_atomic(Path(args.explanation_dir) / SUMMARY_NAME, summary)
    summary["exit_status"] = 0 if summary["num_images"] and (args.allow_skipped or not summary["skipped"]) else 1
    return summary


if __name__ == "__main__":
    raise SystemExit(main()["exit_status"])
