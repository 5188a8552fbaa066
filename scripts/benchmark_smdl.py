"""Benchmark SMDL: forwards, seconds, peak memory and Insertion/Deletion AUC per configuration.

    python -m scripts.benchmark_smdl [--photos coffee chelsea] [--configs grid4 slico40 slico30] [--device cpu]

Each configuration (division x selector) explains each photo with the real EfficientNet-Lite0 and prints one
table row of means. Peak memory is the process's resident-set high-water mark while that configuration ran (reset
per configuration, :class:`scripts.peak_memory.PeakMemory`), or CUDA's allocator peak. Results also go to ``benchmark_results/smdl_benchmark.md``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from common.cli_style import OneDefaultFormatter
from common.demo_images import DEMO_PHOTOS, load_demo_photo
from common.names import SELECTORS

CONFIGS: dict[str, tuple[str, dict]] = {
    "grid4": ("grid", {"grid_size": 4}),
    "grid7": ("grid", {"grid_size": 7}),
    "slico40": ("slico", {"region_size": 40}),
    "slico30": ("slico", {"region_size": 30}),
    "seeds": ("seeds", {}),
}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(prog="python -m scripts.benchmark_smdl", description=__doc__.split("\n\n")[0],
                                     formatter_class=OneDefaultFormatter)
    parser.add_argument("--photos", nargs="+", default=["coffee", "chelsea"], choices=list(DEMO_PHOTOS), help="demo photos")
    parser.add_argument("--configs", nargs="+", default=["grid4", "slico40", "slico30"], choices=list(CONFIGS),
                        help="division presets to compare")
    parser.add_argument("--selector", default="greedy", choices=SELECTORS, help="selector")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--batch-size", type=int, default=16, help="images per forward")
    parser.add_argument("--out", default="benchmark_results/smdl_benchmark.md", help="markdown table output")
    args = parser.parse_args(argv)
    import numpy as np  # here: keeps torch out of --help
    import torch

    from evals.smdl_curves import areas_from_rank_map, smdl_curves
    from models import load_model
    from scripts.peak_memory import PeakMemory
    from submodular_attribution import Lambdas, SubmodularExplainer

    blackbox = load_model("efficientnet_lite0", device=args.device, batch_size=args.batch_size)
    rows = []
    memory = PeakMemory(blackbox.device)
    for config in args.configs:
        memory.start()
        division, params = CONFIGS[config]
        explainer = SubmodularExplainer(blackbox, division, params, Lambdas(), selector=args.selector)
        stats = []
        for photo in args.photos:
            start = time.perf_counter()
            explanation = explainer.explain(load_demo_photo(photo), DEMO_PHOTOS[photo].label)
            seconds = time.perf_counter() - start
            ins_x, del_x = areas_from_rank_map(explanation.rank_map(), explanation.num_regions)
            curves = smdl_curves(explanation.curves["consistency"], explanation.curves["collaboration"], ins_x, del_x)
            stats.append((explanation.num_regions, explanation.forward_passes, seconds, curves.insertion_auc, curves.deletion_auc))
        regions, forwards, seconds, ins, dele = np.mean(stats, axis=0)
        rows.append({"config": config, "selector": args.selector, "regions": regions, "forwards": forwards,
                     "seconds": seconds, "peak_mb": memory.peak(), "insertion": ins, "deletion": dele})
        print(f"done {config}", flush=True)

    header = "| config | selector | regions | forwards | seconds | peak memory (MB) | insertion AUC | deletion AUC |"
    lines = [f"means over {len(args.photos)} photos ({', '.join(args.photos)}), EfficientNet-Lite0 on {blackbox.device}, "
             f"batch {args.batch_size}, torch threads {torch.get_num_threads()}", "", header, "|---" * 8 + "|"]
    for r in rows:
        lines.append(f"| {r['config']} | {r['selector']} | {r['regions']:.1f} | {r['forwards']:.0f} | {r['seconds']:.1f} | "
                     f"{r['peak_mb']:.0f} | {r['insertion']:.4f} | {r['deletion']:.4f} |")
    table = "\n".join(lines)
    print(table)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(table + "\n")
    return rows


if __name__ == "__main__":
    main()
