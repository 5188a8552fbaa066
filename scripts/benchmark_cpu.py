"""CPU benchmark: user/sys seconds, page faults, peak RSS, forwards and Insertion/Deletion per method, with the
heap set-up on and off and the SMDL search in fp32 and bf16, on the demo photos, one thread.

    python -m scripts.benchmark_cpu                                   # every row, the 7 demo photos
    python -m scripts.benchmark_cpu --photos coffee --rows greedy,rise # a quick run

Every (row, photo) cell runs in its own subprocess (``REGION_ATTRIBUTION_MALLOC`` set per row, so the heap
set-up of :mod:`common.memory` is on or off for the whole process and ``ru_maxrss`` is that cell's peak), with
``torch.set_num_threads(1)``. Cells are interleaved: photo by photo, every row of one photo before the next
photo, so a slow period of the shared machine hits all rows alike. Each cell's result is cached as json in
``<out-dir>/cells/``; a killed run resumes where it stopped (``--fresh`` recomputes).

Rows (``--rows``):

* ``greedy``: SMDL plain greedy, SLICO region size 30 (~49 regions), LiMA's weights (confidence 0.01,
  effectiveness 0, consistency 20, collaboration 5) unless ``--lambdas smdl`` (0, 0.05, 1, 1).
* ``bidirectional``: LiMA's bidirectional greedy, P = ``--pending-samples`` (12), same division and weights.
* ``la``: Local Attribution, s = K = T = 20, seed 3407, the label class, through ``local_attribution``'s
  registry at its default internal batch.
* ``rise``, ``occlusion``: ``baseline_attribution``'s registry at default settings (4000 masks; 10 px patches,
  stride 5).
* ``greedy-before``: the greedy row run by the code of ``--before-root`` (a checkout of the commit before
  issue 14, e.g. ``git worktree add /tmp/before ff2557b``): the "before" of the speed-up. Skipped when that
  folder does not exist. Its heap set-up column reads ``n/a`` (that code has none).

SMDL rows run once per ``--search-dtype`` value, every row once per ``--allocator`` value.

Columns, per image (means over the photos): user and sys CPU seconds of the explanation alone (not the model
load, not the evaluation), kernel share sys / (user + sys), minor page faults, peak RSS of the process (max over
photos), images forwarded (search + exact for SMDL), Insertion and Deletion AUC under the ``smdl_baseline``
protocol of :mod:`evals.causal` (black fill, 50 steps, label class; every method scored the same way, SMDL
through its rank map), and for SMDL the region-curve Insertion of its own curves (``evals.smdl_curves``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ROWS = ("greedy", "bidirectional", "la", "rise", "occlusion", "greedy-before")
SMDL_ROWS = ("greedy", "bidirectional", "greedy-before")
LAMBDAS = {"lima": (0.01, 0.0, 20.0, 5.0), "smdl": (0.0, 0.05, 1.0, 1.0)}
DEFAULT_PHOTOS = ("coffee", "chelsea", "camera", "grace_hopper", "rocket", "china", "flower")
LA_SEED = 3407


def _csv(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scripts.benchmark_cpu", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    parser.add_argument("--photos", type=_csv, default=list(DEFAULT_PHOTOS),
                        help="comma-separated demo photos (common/demo_images.py); default: all 7")
    parser.add_argument("--rows", type=_csv, default=list(ROWS),
                        help=f"comma-separated rows among {','.join(ROWS)}; default: all")
    parser.add_argument("--allocator", type=_csv, default=["on", "off"],
                        help="comma-separated heap set-up states to run every row with (REGION_ATTRIBUTION_MALLOC)")
    parser.add_argument("--search-dtype", type=_csv, default=["fp32", "bf16"],
                        help="comma-separated search precisions for the SMDL rows (bf16 needs avx512_bf16/amx_bf16)")
    parser.add_argument("--lambdas", choices=sorted(LAMBDAS), default="lima",
                        help="SMDL weights: lima (0.01, 0, 20, 5) or smdl (0, 0.05, 1, 1), in the driver's λ1..λ4 order")
    parser.add_argument("--region-size", type=int, default=30, help="SLICO region size of the SMDL rows (30: ~49 regions)")
    parser.add_argument("--pending-samples", type=int, default=12, help="bidirectional row: P")
    parser.add_argument("--batch-size", type=int, default=32,
                        help="images per forward for SMDL and the baselines (the SMDL driver's default)")
    parser.add_argument("--eval-batch-size", type=int, default=51, help="images per forward in the Insertion/Deletion scoring")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per cell")
    parser.add_argument("--jobs", type=int, default=1,
                        help="cells run at the same time (CPU seconds are per process; >1 shortens the wall time "
                             "on an idle machine but shares caches)")
    parser.add_argument("--before-root", default="/tmp/before",
                        help="checkout of the code before issue 14, for the greedy-before row")
    parser.add_argument("--out-dir", default="benchmark_results/cpu", help="cells cache, table (cpu_benchmark.md) and csv")
    parser.add_argument("--fresh", action="store_true", help="ignore cached cells and recompute them")
    parser.add_argument("--table-only", action="store_true",
                        help="compute nothing: print the table of the cached cells of this selection (cells run by "
                             "several invocations, e.g. in parallel, end up in one table)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    return parser


# --------------------------------------------------------------------------------------------- worker side
def run_cell(spec: dict[str, Any]) -> dict[str, Any]:
    """One (row, photo) in this process: the explanation timed with ``getrusage``, then its evaluation."""
    import resource

    import numpy as np
    import torch

    torch.set_num_threads(int(spec["threads"]))
    from common.demo_images import DEMO_PHOTOS, load_demo_photo
    from evals.causal import insertion_deletion
    from models import load_model

    blackbox = load_model("efficientnet_lite0", device="cpu", batch_size=int(spec["batch_size"]))
    try:
        from common.memory import allocator_state

        allocator = allocator_state()
    except ImportError:
        allocator = "n/a"
    photo = DEMO_PHOTOS[spec["photo"]]
    image = blackbox.resize(load_demo_photo(spec["photo"]))
    x = blackbox.to_tensor(image)
    label = int(photo.label)
    blackbox.predict(x.repeat(2, 1, 1, 1))  # warm-up: first-call kernel selection is not charged to the method
    kind = spec["row"]
    out: dict[str, Any] = {}

    def explain() -> np.ndarray:
        if kind in SMDL_ROWS:
            from submodular_attribution import Lambdas, SubmodularExplainer

            options: dict[str, Any] = {}
            if spec["search_dtype"] != "fp32":
                options["search_dtype"] = spec["search_dtype"]
            selector = "greedy" if kind.startswith("greedy") else "bidirectional"
            explainer = SubmodularExplainer(blackbox, "slico", {"region_size": int(spec["region_size"])},
                                            Lambdas(*spec["lambdas"]), selector=selector,
                                            selector_options={} if selector == "greedy" else {"pending_samples": int(spec["pending_samples"])},
                                            **options)
            explanation = explainer.explain(image, label)
            out["explanation"] = explanation
            return explanation.saliency_map()
        if kind == "la":
            from local_attribution import get_method

            method = get_method("la", spatial_range=20, max_iter=20, sampling_times=20)
            generator = torch.Generator().manual_seed(LA_SEED)
            attr = method.attribute(blackbox.differentiable(), x, torch.tensor([label]), generator=generator)
            return attr[0].detach().float().mean(dim=0).cpu().numpy()
        from baseline_attribution import get_method as get_baseline

        generator = torch.Generator().manual_seed(0)
        return get_baseline(kind).attribute(blackbox, x, torch.tensor([label]), generator=generator)[0].cpu().numpy()

    forwards_before = blackbox.forward_count
    start_usage = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.perf_counter()
    saliency = explain()
    wall = time.perf_counter() - wall
    end_usage = resource.getrusage(resource.RUSAGE_SELF)
    forwards = blackbox.forward_count - forwards_before
    result: dict[str, Any] = {
        **{k: spec[k] for k in ("row", "photo", "allocator", "search_dtype")},
        "allocator_state": allocator,
        "user_s": end_usage.ru_utime - start_usage.ru_utime,
        "sys_s": end_usage.ru_stime - start_usage.ru_stime,
        "minor_faults": end_usage.ru_minflt - start_usage.ru_minflt,
        "peak_rss_mb": end_usage.ru_maxrss / 1024.0,
        "wall_s": wall,
        "forwards": forwards,
        "load_average": os.getloadavg()[0],
    }
    explanation = out.get("explanation")
    if explanation is not None:
        from evals.smdl_curves import areas_from_rank_map, smdl_curves

        data = explanation.to_json()
        result["forwards_search"] = data.get("forward_passes_search", forwards)
        result["forwards_exact"] = data.get("forward_passes_exact", 0)
        result["regions"] = explanation.num_regions
        result["ranking"] = [int(r) for r in explanation.ranking]
        ins_x, del_x = areas_from_rank_map(explanation.rank_map(), explanation.num_regions)
        curves = smdl_curves(explanation.curves["consistency"], explanation.curves["collaboration"], ins_x, del_x)
        result["region_insertion"] = float(curves.insertion_auc)
        result["region_deletion"] = float(curves.deletion_auc)
    scores = insertion_deletion(blackbox, x, torch.from_numpy(np.ascontiguousarray(saliency, dtype=np.float32))[None],
                                "smdl_baseline", targets=[label], batch_size=int(spec["eval_batch_size"]))
    result["insertion"] = float(scores.insertion_aucs[0])
    result["deletion"] = float(scores.deletion_aucs[0])
    return result


# --------------------------------------------------------------------------------------------- driver side
def cell_specs(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every (photo, row, allocator, search dtype) cell, photo-major so rows interleave."""
    variants = []
    for row in args.rows:
        if row == "greedy-before":
            variants.append((row, "n/a", "fp32"))
            continue
        for allocator in args.allocator:
            for dtype in (args.search_dtype if row in SMDL_ROWS else ["fp32"]):
                variants.append((row, allocator, dtype))
    common = {"threads": args.threads, "batch_size": args.batch_size, "eval_batch_size": args.eval_batch_size,
              "region_size": args.region_size, "pending_samples": args.pending_samples,
              "lambdas": list(LAMBDAS[args.lambdas])}
    return [{**common, "photo": photo, "row": row, "allocator": allocator, "search_dtype": dtype}
            for photo in args.photos for row, allocator, dtype in variants]


def cell_path(out_dir: Path, spec: dict[str, Any], args: argparse.Namespace) -> Path:
    settings = f"{args.lambdas}-slico{args.region_size}-P{args.pending_samples}-b{args.batch_size}-t{args.threads}"
    allocator = spec["allocator"].replace("/", "")  # "n/a" -> "na"
    return out_dir / "cells" / settings / f"{spec['row']}-alloc-{allocator}-{spec['search_dtype']}-{spec['photo']}.json"


def start_cell(spec: dict[str, Any], args: argparse.Namespace) -> subprocess.Popen:
    root = Path(args.before_root) if spec["row"] == "greedy-before" else ROOT
    env = dict(os.environ, PYTHONPATH=str(root), OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads),
               HF_HUB_OFFLINE="1", MPLBACKEND="Agg")
    env["REGION_ATTRIBUTION_MALLOC"] = "off" if spec["allocator"] == "off" else "on"
    return subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)], env=env,
                            cwd=str(root), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_cells(specs: list[dict[str, Any]], args: argparse.Namespace) -> list[dict[str, Any]]:
    out_dir = Path(args.out_dir)
    todo = [] if args.table_only else [s for s in specs if args.fresh or not cell_path(out_dir, s, args).is_file()]
    cached = sum(cell_path(out_dir, s, args).is_file() for s in specs)
    print(f"{len(specs)} cells, {cached} cached in {out_dir / 'cells'}", flush=True)
    running: list[tuple[dict[str, Any], subprocess.Popen, float]] = []
    failures = 0
    while todo or running:
        while todo and len(running) < max(1, args.jobs):
            spec = todo.pop(0)
            running.append((spec, start_cell(spec, args), time.time()))
        time.sleep(0.5)
        for item in list(running):
            spec, proc, started = item
            if proc.poll() is None:
                continue
            running.remove(item)
            stdout, stderr = proc.communicate()
            name = f"{spec['row']} alloc={spec['allocator']} {spec['search_dtype']} {spec['photo']}"
            lines = [line for line in stdout.splitlines() if line.startswith("{")]
            if proc.returncode != 0 or not lines:
                failures += 1
                tail = stderr.strip().splitlines()[-1:] or ["no output"]
                print(f"FAILED {name}: {tail[0]}", flush=True)
                continue
            path = cell_path(out_dir, spec, args)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(lines[-1] + "\n")
            tmp.replace(path)
            cell = json.loads(lines[-1])
            print(f"{name}: user {cell['user_s']:.1f} s sys {cell['sys_s']:.1f} s faults {cell['minor_faults'] / 1e6:.2f} M "
                  f"peak {cell['peak_rss_mb']:.0f} MB fwd {cell['forwards']} ins {cell['insertion']:.4f} "
                  f"({time.time() - started:.0f} s wall)", flush=True)
    if failures:
        print(f"{failures} cells failed (rerun to retry them)", flush=True)
    return [json.loads(cell_path(out_dir, s, args).read_text()) for s in specs if cell_path(out_dir, s, args).is_file()]


ROW_LABELS = {"greedy": "SMDL greedy", "bidirectional": "LiMA bidirectional P={P}", "la": "LA s=K=T=20",
              "rise": "RISE (4000 masks)", "occlusion": "Occlusion (10/5)", "greedy-before": "SMDL greedy, before (ff2557b)"}
COLUMNS = ["row", "heap set-up", "search", "photos", "user s", "sys s", "sys share", "CPU s", "minor faults (M)",
           "peak RSS (MB)", "forwards", "Insertion", "Deletion", "region Insertion", "ranking = fp32 greedy"]


def summarise(cells: list[dict[str, Any]], args: argparse.Namespace) -> list[dict[str, Any]]:
    """One row per (row, allocator, search dtype): per-image means over the photos (peak RSS: the max)."""
    import numpy as np

    reference = {c["photo"]: c.get("ranking") for c in cells
                 if c["row"] == "greedy" and c["allocator"] == "on" and c["search_dtype"] == "fp32"}
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for cell in cells:
        groups.setdefault((cell["row"], cell["allocator"], cell["search_dtype"]), []).append(cell)
    order = {row: i for i, row in enumerate(ROWS)}
    rows = []
    for (row, allocator, dtype), group in sorted(groups.items(), key=lambda kv: (order.get(kv[0][0], 99), kv[0][1] != "on",
                                                                                  kv[0][2] != "fp32")):
        def mean(key: str) -> float:
            return float(np.mean([c[key] for c in group]))

        user, system = mean("user_s"), mean("sys_s")
        forwards = f"{mean('forwards'):.0f}"
        if row in SMDL_ROWS and dtype != "fp32":
            forwards += f" ({mean('forwards_search'):.0f} + {mean('forwards_exact'):.0f})"
        same = [c.get("ranking") == reference.get(c["photo"]) for c in group if reference.get(c["photo"])]
        rows.append({
            "row": ROW_LABELS[row].format(P=args.pending_samples), "heap set-up": allocator,
            "search": dtype if row in SMDL_ROWS else "-", "photos": len(group),
            "user s": f"{user:.1f}", "sys s": f"{system:.1f}", "sys share": f"{system / max(user + system, 1e-9):.0%}",
            "CPU s": f"{user + system:.1f}", "minor faults (M)": f"{mean('minor_faults') / 1e6:.2f}",
            "peak RSS (MB)": f"{max(c['peak_rss_mb'] for c in group):.0f}", "forwards": forwards,
            "Insertion": f"{mean('insertion'):.4f}", "Deletion": f"{mean('deletion'):.4f}",
            "region Insertion": f"{mean('region_insertion'):.4f}" if row in SMDL_ROWS else "-",
            "ranking = fp32 greedy": f"{sum(same)}/{len(same)}" if row in SMDL_ROWS and same else "-",
        })
    return rows


def markdown(rows: list[dict[str, Any]], args: argparse.Namespace, argv: list[str]) -> str:
    import platform

    import torch

    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(str(r[c]) for c in COLUMNS) + " |" for r in rows]
    notes = [
        "command: `" + " ".join(["python -m scripts.benchmark_cpu", *argv]) + "`",
        f"EfficientNet-Lite0, CPU, {args.threads} thread(s) per cell, batch {args.batch_size}, torch {torch.__version__}, "
        f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}); photos: {', '.join(args.photos)}",
        f"SMDL: SLICO region size {args.region_size}, λ = {LAMBDAS[args.lambdas]} ({args.lambdas}); per image means; "
        "CPU seconds exclude model load, warm-up and evaluation; peak RSS = the cell process's ru_maxrss (max over photos)",
        "Insertion/Deletion: evals.causal smdl_baseline (black, 50 steps, label); region Insertion: SMDL's own curve",
    ]
    return "\n".join(lines + [""] + [f"- {n}" for n in notes]) + "\n"


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.worker:
        print(json.dumps(run_cell(json.loads(args.worker))), flush=True)
        return []
    from common.demo_images import DEMO_PHOTOS
    from common.errors import ToolkitError, exit_on_toolkit_error

    def check() -> None:
        for flag, values, allowed in (("--photos", args.photos, list(DEMO_PHOTOS)), ("--rows", args.rows, list(ROWS)),
                                      ("--allocator", args.allocator, ["on", "off"]),
                                      ("--search-dtype", args.search_dtype, ["fp32", "bf16"])):
            bad = [v for v in values if v not in allowed]
            if bad or not values:
                raise ToolkitError(f"{flag} {','.join(bad) or '(empty)'}: choose from {','.join(allowed)}")
        if "bf16" in args.search_dtype:
            from models.precision import check_search_dtype

            check_search_dtype("bf16", "cpu")
        if "greedy-before" in args.rows and not (Path(args.before_root) / "submodular_attribution").is_dir():
            print(f"note: --before-root {args.before_root} has no checkout; greedy-before skipped "
                  "(git worktree add /tmp/before ff2557b)")
            args.rows.remove("greedy-before")

    exit_on_toolkit_error(check)()
    cells = run_cells(cell_specs(args), args)
    rows = summarise(cells, args)
    text = markdown(rows, args, argv)
    print(text)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "cpu_benchmark.md").write_text(text)
    import csv

    with open(out_dir / "cpu_benchmark.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {out_dir / 'cpu_benchmark.md'} and {out_dir / 'cpu_benchmark.csv'}")
    return rows


if __name__ == "__main__":
    if __package__ in (None, ""):  # run as a file by the cells: the project root comes from PYTHONPATH
        sys.path[:] = [p for p in sys.path if Path(p).resolve() != Path(__file__).resolve().parent]
    main()
