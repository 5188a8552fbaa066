"""Benchmark the selectors against plain greedy: forwards, seconds, peak memory, Insertion/Deletion AUC
(the original protocol, specs/smdl.md §5.1) and the Spearman correlation of the ranking with greedy's.

    python -m scripts.benchmark_selection [--photos coffee chelsea ...] [--weightings default lima]
        [--selectors greedy bidirectional:pending_samples=12 lazy:forward_budget=240 ...]

EfficientNet-Lite0, SLICO region size 30, each demo photo explained for its label. A selector is
``name[:option=value,...]`` (the options of its constructor). Weightings: ``default`` = (0, 0.05, 1, 1)
(confidence, effectiveness, consistency, collaboration), ``lima`` = LiMA's (0.01, 0, 20, 5). Every run
(photo x weighting x features x selector) is cached as json under ``--cache-dir``, so a re-run only computes
new rows; plain greedy (~2500 forwards per photo) is the expensive one. Writes ``<out>.csv`` and ``<out>.md``.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from common.cli_style import OneDefaultFormatter
from common.demo_images import DEMO_PHOTOS, load_demo_photo
from evals.smdl_curves import areas_from_region_stack, smdl_curves

if TYPE_CHECKING:
    from scripts.peak_memory import PeakMemory

WEIGHTINGS: dict[str, tuple[float, float, float, float]] = {
    "default": (0.0, 0.05, 1.0, 1.0),
    "lima": (0.01, 0.0, 20.0, 5.0),
}
"""λ1..λ4 (confidence, effectiveness, consistency, collaboration) of each weighting (``Lambdas(*w)``; plain
numbers so that ``--help`` and flag errors do not import torch)."""
DEFAULT_SELECTORS = [
    "greedy",
    "bidirectional:pending_samples=12",
    "lazy:lazy_batch=4,forward_budget=245",
    "tail:head_steps=0",
    "stochastic:sample_size=2,seed=0,forward_budget=245",
    "window:window=8,forward_budget=245",
    "coarse:groups=10,forward_budget=245",
    "surrogate:forward_budget=245",
    "onesided:window=8,forward_budget=245",
    "onesided:window=4,forward_budget=245,order=groups",
]
GOAL_FORWARDS, GOAL_INSERTION, GOAL_DELETION = 250, 0.99, 1.01


def parse_selector(spec: str) -> tuple[str, dict[str, int | str]]:
    """``"lazy:lazy_batch=4,forward_budget=240"`` -> ``("lazy", {"lazy_batch": 4, "forward_budget": 240})``."""
    name, _, rest = spec.partition(":")
    options = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        options[key] = int(value) if value.lstrip("-").isdigit() else value
    return name, options


def spearman(ranking: list[int], reference: list[int]) -> float:
    """Spearman's rho between two rankings (permutations) of the same regions: 1 - 6Σd² / (n(n² - 1))."""
    n = len(ranking)
    rank_a, rank_b = np.empty(n), np.empty(n)
    rank_a[np.asarray(ranking)] = np.arange(n)
    rank_b[np.asarray(reference)] = np.arange(n)
    return float(1.0 - 6.0 * np.sum((rank_a - rank_b) ** 2) / (n * (n * n - 1))) if n > 1 else 1.0


def run_one(blackbox: Any, photo: str, weights: tuple[float, float, float, float], features: str, spec: str,
            memory: PeakMemory) -> dict:
    """Explain one demo photo with one selector (λ1..λ4 = ``weights``); returns the cached record."""
    from submodular_attribution import Lambdas, SubmodularExplainer

    name, options = parse_selector(spec)
    explainer = SubmodularExplainer(blackbox, "slico", {"region_size": 30}, Lambdas(*weights), selector=name,
                                    selector_options=options, effectiveness_features=features)
    memory.start()
    start = time.perf_counter()
    explanation = explainer.explain(load_demo_photo(photo), DEMO_PHOTOS[photo].label)
    seconds = time.perf_counter() - start
    ins_x, del_x = areas_from_region_stack(explanation.region_images())
    curves = smdl_curves(explanation.curves["consistency"], explanation.curves["collaboration"], ins_x, del_x)
    return {"photo": photo, "selector": spec, "regions": explanation.num_regions,
            "forwards": explanation.forward_passes, "seconds": seconds, "peak_mb": memory.peak(),
            "insertion": curves.insertion_auc, "deletion": curves.deletion_auc, "ranking": explanation.ranking}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(prog="python -m scripts.benchmark_selection", description=__doc__.split("\n\n")[0],
                                     formatter_class=OneDefaultFormatter)
    parser.add_argument("--photos", nargs="+", default=list(DEMO_PHOTOS), choices=list(DEMO_PHOTOS), help="demo photos")
    parser.add_argument("--weightings", nargs="+", default=list(WEIGHTINGS), choices=list(WEIGHTINGS), help="term weightings")
    parser.add_argument("--features", nargs="+", default=["penultimate", "logits"], choices=["penultimate", "logits"],
                        help="--effectiveness-features values (only weightings with an effectiveness term use them)")
    parser.add_argument("--selectors", nargs="+", default=DEFAULT_SELECTORS, help="name[:option=value,...] specs")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--batch-size", type=int, default=16, help="images per forward")
    parser.add_argument("--cache-dir", default="benchmark_results/selection_cache", help="per-run json cache")
    parser.add_argument("--out", default="benchmark_results/selection_benchmark", help="writes <out>.csv and <out>.md")
    parser.add_argument("--cached-greedy-only", action="store_true",
                        help="do not run plain greedy: compare with its cached runs only (ratios blank where missing)")
    parser.add_argument("--table-only", action="store_true",
                        help="run nothing: tabulate the cached runs (a selector missing a photo is left out)")
    args = parser.parse_args(argv)
    if "greedy" not in args.selectors:
        args.selectors = ["greedy", *args.selectors]

    blackbox = None
    memory = None
    cache = Path(args.cache_dir)
    records: dict[tuple, dict] = {}
    for weighting in args.weightings:
        weights = WEIGHTINGS[weighting]
        for features in (args.features if weights[1] != 0 else ["-"]):  # λ2: the effectiveness term
            for spec in args.selectors:
                for photo in args.photos:
                    path = cache / weighting / features / spec.replace(":", "_").replace(",", "_") / f"{photo}.json"
                    if path.exists():
                        record = json.loads(path.read_text())
                    elif args.table_only or (spec == "greedy" and args.cached_greedy_only):
                        continue
                    else:
                        if blackbox is None:
                            from models import load_model
                            from scripts.peak_memory import PeakMemory

                            blackbox = load_model("efficientnet_lite0", device=args.device, batch_size=args.batch_size)
                            memory = PeakMemory(blackbox.device)
                        record = run_one(blackbox, photo, weights, "penultimate" if features == "-" else features, spec, memory)
                        path.parent.mkdir(parents=True, exist_ok=True)
                        path.write_text(json.dumps(record))
                        print(f"{weighting} {features} {spec} {photo}: {record['forwards']} forwards, "
                              f"{record['seconds']:.1f} s, ins {record['insertion']:.4f} del {record['deletion']:.4f}", flush=True)
                    records[weighting, features, spec, photo] = record

    rows = []
    for weighting in args.weightings:
        for features in (args.features if WEIGHTINGS[weighting][1] != 0 else ["-"]):
            if any((weighting, features, "greedy", p) not in records for p in args.photos):
                continue  # --cached-greedy-only and no reference yet
            reference = [records[weighting, features, "greedy", p] for p in args.photos]
            ref_ins = np.mean([r["insertion"] for r in reference])
            ref_del = np.mean([r["deletion"] for r in reference])
            for spec in args.selectors:
                if any((weighting, features, spec, p) not in records for p in args.photos):
                    continue
                runs = [records[weighting, features, spec, p] for p in args.photos]
                ins, dele = float(np.mean([r["insertion"] for r in runs])), float(np.mean([r["deletion"] for r in runs]))
                forwards = float(np.mean([r["forwards"] for r in runs]))
                rows.append({
                    "weighting": weighting, "features": features, "selector": spec,
                    "regions": float(np.mean([r["regions"] for r in runs])),
                    "forwards": forwards, "max_forwards": max(r["forwards"] for r in runs),
                    "seconds": float(np.mean([r["seconds"] for r in runs])),
                    "peak_mb": float(max(r["peak_mb"] for r in runs)),
                    "insertion": ins, "deletion": dele,
                    "insertion_vs_greedy": ins / ref_ins, "deletion_vs_greedy": dele / ref_del,
                    "spearman": float(np.mean([spearman(r["ranking"], g["ranking"]) for r, g in zip(runs, reference)])),
                    "meets_goal": bool(max(r["forwards"] for r in runs) <= GOAL_FORWARDS
                                       and ins >= GOAL_INSERTION * ref_ins and dele <= GOAL_DELETION * ref_del),
                })
    write_tables(rows, args, Path(args.out))
    return rows


def write_tables(rows: list[dict], args: argparse.Namespace, out: Path) -> None:
    if not rows:
        print("no rows: plain greedy's runs are not cached yet")
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.with_suffix(".csv"), "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    header = ("| weighting | eff. features | selector | regions | forwards/image (max) | s/image | peak MB | "
              "Insertion | Deletion | Ins / greedy | Del / greedy | Spearman vs greedy | goal |")
    lines = [f"means over {len(args.photos)} demo photos ({', '.join(args.photos)}), EfficientNet-Lite0, SLICO 30, "
             f"batch {args.batch_size}; seconds are each run's wall time on the machine as it was then; goal: <= {GOAL_FORWARDS} forwards, "
             f"Insertion >= {GOAL_INSERTION:.0%} and Deletion <= {GOAL_DELETION:.0%} of greedy's", "", header,
             "|---" * 13 + "|"]
    for r in rows:
        lines.append(f"| {r['weighting']} | {r['features']} | {r['selector']} | {r['regions']:.1f} | "
                     f"{r['forwards']:.0f} ({r['max_forwards']}) | {r['seconds']:.1f} | {r['peak_mb']:.0f} | "
                     f"{r['insertion']:.4f} | {r['deletion']:.4f} | {r['insertion_vs_greedy']:.3f} | "
                     f"{r['deletion_vs_greedy']:.3f} | {r['spearman']:.3f} | {'yes' if r['meets_goal'] else 'no'} |")
    table = "\n".join(lines)
    print(table)
    out.with_suffix(".md").write_text(table + "\n")


if __name__ == "__main__":
    main()
