"""LA's cost against its internal batch size: CPU seconds (user and sys), peak RSS, passes, Insertion/Deletion.

    python -m scripts.benchmark_la_batch                                  # 3 demo photos, batches 1 2 4 8 16 20 64
    python -m scripts.benchmark_la_batch --limit 1 --batch-sizes 4 64 --max-iter 5

Every internal batch size runs in its own child process (one thread, heap set-up of :mod:`common.memory` on
unless ``REGION_ATTRIBUTION_MALLOC=off``), so each peak RSS is that process's own high-water mark
(``ru_maxrss``: model, photos and LA). The children run one after the other, in the order given, ``--rounds``
times (odd rounds reversed, so slow drift on a shared machine hits every setting alike); the table shows the
median round. CPU seconds are ``getrusage`` user and sys time around the attribution only (not the model load,
not the evaluation), per image. The photos are explained for their labels in one ``attribute`` call with the
seed ``--seed``, as one batch of ``generate_attributions``.

Columns: internal batch, images, user-s/img, sys-s/img, CPU-s/img (user + sys), peak RSS (MB), forwards/img,
backwards/img, Insertion, Deletion (LA protocol, :mod:`evals.la_insertion_deletion`), and the Spearman rank
correlation of each photo's map with the first batch size's map (min and max over photos): how much LA's
``sign()`` steps amplify float rounding that differs between batch sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from common.cli_style import OneDefaultFormatter

COLUMNS = ["internal batch", "images", "user-s/img", "sys-s/img", "CPU-s/img", "peak RSS (MB)", "forwards/img",
           "backwards/img", "insertion", "deletion", "Spearman vs first (min-max)"]


def child(args: argparse.Namespace) -> None:
    """Explain the photos once at ``--internal-batch-size``; print one JSON line, save the maps."""
    import torch

    from common.eval_list import parse_eval_list
    from evals.la_insertion_deletion import insertion_deletion
    from local_attribution import get_method
    from local_attribution.packed import pack_samples
    from local_attribution.pass_counter import PassCounter
    from models import BlackBox, load_classifier

    torch.set_num_threads(args.threads)
    data = pack_samples(parse_eval_list("demo", ".")[: args.limit], 224)
    blackbox = BlackBox(load_classifier(args.model), device="cpu")
    model = PassCounter(blackbox.classifier).eval()
    la = get_method("la", spatial_range=args.spatial_range, max_iter=args.max_iter,
                    sampling_times=args.sampling_times)
    warm = data.images[:1].clone().requires_grad_(True)
    model(warm).sum().backward()
    model.reset()
    before = resource.getrusage(resource.RUSAGE_SELF)
    maps = la.attribute(model, data.images, data.labels, internal_batch_size=args.internal_batch_size,
                        generator=torch.Generator().manual_seed(args.seed))
    after = resource.getrusage(resource.RUSAGE_SELF)
    n = data.images.shape[0]
    np.save(args.maps, maps.numpy())
    scores = insertion_deletion(blackbox, data.images, maps.numpy(), batch_size=50)
    print(json.dumps({
        "internal batch": args.internal_batch_size if args.internal_batch_size is not None else "default",
        "images": n, "user-s/img": (after.ru_utime - before.ru_utime) / n,
        "sys-s/img": (after.ru_stime - before.ru_stime) / n,
        "peak RSS (MB)": after.ru_maxrss / 1024, "forwards/img": model.forward_images / n,
        "backwards/img": model.backward_images / n, "insertion": scores["insertion_auc"],
        "deletion": scores["deletion_auc"], "names": list(data.names),
    }))


def spearman_range(maps: np.ndarray, ref: np.ndarray) -> str:
    """``"min-max"`` over photos of the Spearman correlation between ``maps[i]`` and ``ref[i]`` (flattened)."""
    from scipy.stats import spearmanr

    rho = [float(spearmanr(a.ravel(), b.ravel()).statistic) for a, b in zip(maps, ref, strict=True)]
    return f"{min(rho):.3f}-{max(rho):.3f}"


def cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def run(args: argparse.Namespace, argv: list[str]) -> list[dict[str, Any]]:
    work = Path(tempfile.mkdtemp(prefix="la_batch_"))
    sizes: list[int | None] = list(args.batch_sizes)
    runs: dict[Any, list[dict[str, Any]]] = {b: [] for b in sizes}
    maps: dict[Any, np.ndarray] = {}
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}

    def one(r: int, b: int) -> None:
        out = work / f"maps_{b}.npy"
        cmd = [sys.executable, "-m", "scripts.benchmark_la_batch", "--child", "--internal-batch-size", str(b),
               "--maps", str(out), "--limit", str(args.limit), "--model", args.model, "--seed", str(args.seed),
               "--spatial-range", str(args.spatial_range), "--max-iter", str(args.max_iter),
               "--sampling-times", str(args.sampling_times), "--threads", str(args.threads)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"internal batch {b}: child failed:\n{proc.stderr[-2000:]}")
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        row["CPU-s/img"] = row["user-s/img"] + row["sys-s/img"]
        runs[b].append(row)
        maps[b] = np.load(out)
        print(f"round {r + 1} batch {b}: CPU-s/img {row['CPU-s/img']:.1f} (user {row['user-s/img']:.1f}, "
              f"sys {row['sys-s/img']:.2f}), peak RSS {row['peak RSS (MB)']:.0f} MB", flush=True)

    for r in range(args.rounds):
        order = sizes if r % 2 == 0 else sizes[::-1]
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:  # --jobs 1: strictly one after the other
            for future in [pool.submit(one, r, b) for b in order]:
                future.result()
    rows = []
    for b in sizes:
        rows_b = sorted(runs[b], key=lambda row: row["CPU-s/img"])
        row = dict(rows_b[len(rows_b) // 2])
        row["peak RSS (MB)"] = statistics.median(x["peak RSS (MB)"] for x in runs[b])
        row["Spearman vs first (min-max)"] = spearman_range(maps[b], maps[sizes[0]])
        rows.append(row)
    names = rows[0].pop("names")
    notes = [
        f"command: python -m scripts.benchmark_la_batch {' '.join(argv)}".rstrip(),
        f"photos: {', '.join(names)}; {args.model}, 224 px, {args.threads} thread(s), LA s={args.spatial_range} "
        f"K={args.max_iter} T={args.sampling_times}, seed {args.seed}, target = label; heap set-up "
        f"{'off' if os.environ.get('REGION_ATTRIBUTION_MALLOC', 'on').lower() in ('0', 'off', 'false', 'no', 'system') else 'on'}; "
        f"median of {args.rounds} round(s), {args.jobs} child(ren) at once; load average at the end {os.getloadavg()[0]:.1f}",
    ]
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell(r.get(c, "")) for c in COLUMNS) + " |" for r in rows]
    text = "\n".join(lines + [""] + [f"- {n}" for n in notes]) + "\n"
    print()
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return rows


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scripts.benchmark_la_batch", description=__doc__.split("\n\n")[0],
                                     formatter_class=OneDefaultFormatter)
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 2, 4, 8, 16, 20, 64],
                        help="internal batch sizes; the first is the reference of the Spearman column")
    parser.add_argument("--limit", type=int, default=3, help="first N demo photos")
    parser.add_argument("--model", default="efficientnet_lite0", help="network")
    parser.add_argument("--spatial-range", type=float, default=20.0, help="LA: s")
    parser.add_argument("--max-iter", type=int, default=20, help="LA: K")
    parser.add_argument("--sampling-times", type=int, default=20, help="LA: T")
    parser.add_argument("--seed", type=int, default=3407, help="LA's class-sampling seed")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per child")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the sweep (odd rounds in reverse order)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="children at once (> 1 only on a machine with idle cores; say so with the numbers)")
    parser.add_argument("--out", default=None, help="also write the markdown table here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--internal-batch-size", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--maps", default=None, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> list[dict[str, Any]] | None:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.limit < 1 or args.jobs < 1 or any(b < 1 for b in args.batch_sizes):
        raise SystemExit("error: --limit, --jobs and --batch-sizes must be >= 1")
    if args.child:
        child(args)
        return None
    return run(args, argv)


if __name__ == "__main__":
    main()
