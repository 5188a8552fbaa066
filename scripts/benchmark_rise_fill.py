"""RISE's fill and mask-edge settings compared on one demo photo: Insertion/Deletion AUC per setting.

    python -m scripts.benchmark_rise_fill [--photo coffee] [--n-masks 1000] [--presets smdl_baseline rise2018]

Computes RISE (EfficientNet-Lite0, the photo's demo label, seed 0) with the default fill (black, clamped mask
edges: Xplique / SMDL), ``--fill mean`` and the paper's ``--fill mean --edges reflect`` through
:func:`common.attribution_maps.compute_attribution_map`, scores each map with :func:`evals.causal.insertion_deletion`
and prints one line per (setting, preset) with the CPU time (user, sys; one thread) of the map.
"""

from __future__ import annotations

import argparse
import resource


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m scripts.benchmark_rise_fill", description=__doc__.split("\n\n")[0])
    parser.add_argument("--photo", default="coffee", help="demo photo name")
    parser.add_argument("--n-masks", type=int, default=1000, help="RISE masks per map")
    parser.add_argument("--presets", nargs="+", default=["smdl_baseline", "rise2018"], help="evals.causal presets")
    args = parser.parse_args(argv)

    import torch

    from common.attribution_maps import compute_attribution_map
    from common.demo_images import DEMO_PHOTOS, load_demo_photo
    from evals.causal import insertion_deletion
    from models import load_model

    torch.set_num_threads(1)
    label = DEMO_PHOTOS[args.photo].label
    box = load_model("efficientnet_lite0", batch_size=50)
    photo = load_demo_photo(args.photo)
    x = box.to_tensor(box.resize(photo))
    for params in ({}, {"fill": "mean"}, {"fill": "mean", "edges": "reflect"}):
        before = resource.getrusage(resource.RUSAGE_SELF)
        saliency = compute_attribution_map("rise", box, photo, label, {"n_masks": args.n_masks, **params}, seed=0)
        after = resource.getrusage(resource.RUSAGE_SELF)
        for preset in args.presets:
            res = insertion_deletion(box, x, torch.from_numpy(saliency)[None], preset, targets=[label], batch_size=50)
            print(f"{args.photo} rise n_masks={args.n_masks} {params or 'default (black, clamp)'} {preset}: "
                  f"insertion {float(res.insertion_aucs[0]):.4f} deletion {float(res.deletion_aucs[0]):.4f} "
                  f"(map: user {after.ru_utime - before.ru_utime:.1f} s, sys {after.ru_stime - before.ru_stime:.1f} s)",
                  flush=True)


if __name__ == "__main__":
    main()
