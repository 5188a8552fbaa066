"""Benchmark the baselines: forwards and seconds per image of every method at its default settings.

    python -m scripts.benchmark_baselines [--methods gradcam rise] [--end 1] [--save-dir benchmark_results/baselines]

Runs the baseline map generator (:func:`baseline_attribution.runner.main`, what
``python -m baseline_attribution.generate_explanation_maps`` runs) once per method on the demo photos ``--begin..--end``
(EfficientNet-Lite0 by default) and prints one markdown row per method from the ``log.jsonl`` each run writes
(mean forwards and seconds per image). Maps already in ``--save-dir`` are not recomputed: rerunning only prints
the table of what was measured.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from baseline_attribution import runner
from common.cli_style import OneDefaultFormatter
from common.names import BASELINE_METHODS
from models import DEFAULT_MODEL


def table(rows: list[tuple[str, str, float, float, int]]) -> str:
    """Markdown table of ``(method, folder, forwards, seconds, images)`` rows."""
    lines = ["| method | folder | forwards / image | seconds / image | images |", "|---|---|---|---|---|"]
    lines += [f"| `{m}` | `{f}` | {fw:.0f} | {s:.1f} | {n} |" for m, f, fw, s, n in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[tuple[str, str, float, float, int]]:
    parser = argparse.ArgumentParser(prog="python -m scripts.benchmark_baselines", description=__doc__.split("\n\n")[0],
                                     formatter_class=OneDefaultFormatter)
    parser.add_argument("--methods", nargs="+", default=list(BASELINE_METHODS), choices=BASELINE_METHODS, help="methods to run")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="black-box classifier")
    parser.add_argument("--begin", type=int, default=0, help="first demo photo")
    parser.add_argument("--end", type=int, default=1, help="one past the last demo photo (-1 = all)")
    parser.add_argument("--batch-size", type=int, default=16, help="images per forward")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 or auto")
    parser.add_argument("--save-dir", default="benchmark_results/baselines", help="where the maps and logs go")
    args = parser.parse_args(argv)
    rows = []
    for method in args.methods:
        method_dir, _ = runner.main(["--method", method, "--model", args.model, "--eval-list", "demo",
                                     "--begin", str(args.begin), "--end", str(args.end), "--batch-size",
                                     str(args.batch_size), "--device", args.device, "--save-dir", args.save_dir,
                                     "--no-progress"])
        log = method_dir / "log.jsonl"
        records = [json.loads(line) for line in log.read_text().splitlines()] if log.is_file() else []
        if records:
            rows.append((method, method_dir.name, sum(r["forwards"] for r in records) / len(records),
                         sum(r["seconds"] for r in records) / len(records), len(records)))
    text = table(rows)
    print(text)
    Path(args.save_dir).mkdir(parents=True, exist_ok=True)
    (Path(args.save_dir) / "baseline_benchmark.md").write_text(text + "\n")
    return rows


if __name__ == "__main__":
    main()
