"""Insertion / Deletion (and optionally MuFidelity) of a folder of saved dense maps, under any preset (the
original's ``eval_AUC_faithfulness_baseline``, generalised).

    python -m evals.eval_AUC_faithfulness_baseline --maps-dir explanation_results/imagenet-efficientnet_lite0/GradCAM \\
        --eval-list demo --preset smdl_baseline

Reads ``<maps-dir>/<class>/<stem>.npy`` for each eval-list sample (``<class>`` = its label, or ``top1``;
fallback ``<maps-dir>/<stem>.npy``): an ``H x W`` or ``3 x H x W`` float map (baseline_attribution / LA
layout) or an SMDL int rank map (``<smdl run>/npy``, converted as ``convert_smdl_mask``), at the model's input
size. Prints the mean AUCs (and with ``--budgets`` the highest confidence, spec smdl §5.3, optionally only
on misclassified samples) and writes ``<maps-dir>/auc_<preset>.json`` with per-image AUCs and curves.
Samples without a map are listed and left out. A map file that cannot be used (unreadable, NaN or inf, a shape
that is not the model input) is named on stderr and left out; the run then exits 1 (``--allow-skipped``: 0).
Flags are checked before torch is imported (``--help`` and flag errors are fast).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from common.cli_style import normalise_flags
from common.errors import ToolkitError, exit_on_toolkit_error
from common.eval_list import Sample, parse_eval_list, select_range
from common.results import report_skipped, to_jsonable, write_json_atomic
from common.validation import check_range
from evals.entry_flags import add_model_flags, check_model_flags, entry_parser, load_blackbox
from evals.metrics import check_budgets, highest_confidence_dense, load_checked_map
from evals.presets import MUFIDELITY_PRESETS, PRESETS, CausalPreset, get_preset


def find_map(maps_dir: Path, sample: Sample) -> Path | None:
    """``<maps-dir>/<label or top1>/<stem>.npy``, else ``<maps-dir>/<stem>.npy``, else None."""
    folder = str(sample.label) if sample.label is not None else "top1"
    for path in (maps_dir / folder / f"{sample.stem}.npy", maps_dir / f"{sample.stem}.npy"):
        if path.is_file():
            return path
    return None


def preset_with_steps(name: str, steps: int | None) -> CausalPreset:
    """The preset ``name``, with ``n_steps = steps`` when ``--steps`` is given (presets with a step count only)."""
    preset = get_preset(name)
    if steps is None:
        return preset
    if preset.schedule == "pixels_per_step":
        raise ToolkitError(f"--steps {steps}: preset {name} moves {preset.pixels_per_step} pixels per step and has no "
                           "step count; drop --steps or use smdl_baseline / xplique")
    check_range("--steps", steps, 1, hint="the number of insertion/deletion steps")
    return get_preset(name, n_steps=steps)


def evaluate_maps(args: argparse.Namespace) -> dict[str, Any]:
    """Score every map found for the eval list; returns the summary written to the json (``skipped``: the map
    files left out, each with the reason)."""
    maps_dir = Path(args.maps_dir)
    if not maps_dir.is_dir():
        raise ToolkitError(f"--maps-dir {maps_dir}: not a folder")
    preset = preset_with_steps(args.preset, args.steps)
    check_budgets(args.budgets)
    if args.budgets and preset.schedule == "pixels_per_step":
        raise ToolkitError(f"--budgets needs a preset with uniform steps (smdl_baseline, xplique), not {preset.name}")
    check_model_flags(args)
    check_range("--eval-batch-size", args.eval_batch_size, 1)
    samples = select_range(parse_eval_list(args.eval_list, args.Datasets), args.begin,
                           None if args.end < 0 else args.end)
    found = [(s, p) for s in samples if (p := find_map(maps_dir, s)) is not None]
    missing = [s.name for s in samples if find_map(maps_dir, s) is None]
    if not found:
        raise ToolkitError(f"--maps-dir {maps_dir}: no <class>/<stem>.npy for any of the {len(samples)} samples")
    import torch

    from evals.causal import insertion_deletion
    from evals.mufidelity import mufidelity

    blackbox = load_blackbox(args)
    images, flat, native, used, skipped = [], [], [], [], []
    for sample, path in found:
        try:
            image = blackbox.resize(sample.load())
            flat_map, native_map = load_checked_map(path, image.shape[:2])
        except ToolkitError as exc:
            skipped.append({"json": str(path), "error": str(exc).removeprefix(f"{path}: ")})
            continue
        used.append((sample, path))
        images.append(blackbox.to_tensor(image)[0])
        flat.append(torch.from_numpy(flat_map))
        native.append(torch.from_numpy(native_map) if native_map is not None else flat[-1].expand(3, *flat_map.shape))
    if not used:
        report_skipped(skipped, 0)
        raise ToolkitError(f"--maps-dir {maps_dir}: none of the {len(found)} map files can be scored (see above)")
    found = used
    x = torch.stack(images)
    labels = [s.label if s.label is not None else int(blackbox.predict(img[None]).argmax()) for (s, _), img in
              zip(found, images)]
    res = insertion_deletion(blackbox, x, torch.stack(flat), preset, targets=labels if preset.target == "label" else None,
                             batch_size=args.eval_batch_size, progress=not args.no_progress, la_maps=torch.stack(native))
    summary: dict[str, Any] = {
        "maps_dir": str(maps_dir), "preset": preset.name, "n_steps": res.n_steps, "reference": preset.reference,
        "model": args.model, "num_images": len(found), "missing": missing, "skipped": skipped,
        "insertion_auc": res.insertion_auc, "deletion_auc": res.deletion_auc, "x": res.x,
        "images": [{"name": s.name, "target": int(t), "insertion_auc": float(i), "deletion_auc": float(d),
                    "insertion_curve": ic, "deletion_curve": dc}
                   for (s, _), t, i, d, ic, dc in zip(found, res.targets, res.insertion_aucs, res.deletion_aucs,
                                                     res.insertion_curves, res.deletion_curves)],
    }
    if args.budgets:
        summary["highest_confidence"] = highest_confidence_summary(blackbox, x, labels, res, args.budgets,
                                                                   args.misclassified_only)
    if args.mufidelity:
        mu = mufidelity(blackbox, x, torch.stack(flat), labels, args.mufidelity,
                        generator=torch.Generator().manual_seed(args.seed), batch_size=args.eval_batch_size)
        summary["mufidelity"] = {"preset": args.mufidelity, "score": mu.score, "per_image": mu.scores}
    write_json_atomic(maps_dir / f"auc_{preset.name}.json", to_jsonable(summary))
    return summary


def highest_confidence_summary(blackbox: Any, images: Any, labels: list[int], res: Any, budgets: list[float],
                               misclassified_only: bool) -> list[dict[str, Any]]:
    """Per budget: mean ± std of the highest label probability on each insertion curve (spec smdl §5.3,
    baseline version) and of the area where it is reached, over all samples or the misclassified ones."""
    keep = np.ones(len(labels), bool)
    if misclassified_only:
        keep = blackbox.predict(images).argmax(dim=1).cpu().numpy() != np.asarray(labels)
    rows = []
    per_sample = [highest_confidence_dense(curve, budgets) for curve in res.insertion_curves[keep]]
    for j, budget in enumerate(budgets):
        values = np.array([s[j] for s in per_sample if s[j] is not None], dtype=np.float64).reshape(-1, 2)
        stats = {f"{k}_{f.__name__}": float(f(values[:, i])) if len(values) else float("nan")
                 for i, k in enumerate(("highest_confidence", "area")) for f in (np.mean, np.std)}
        rows.append({"budget": budget, "samples": len(values), **stats})
    return rows


def build_parser() -> argparse.ArgumentParser:
    parser = entry_parser("evals.eval_AUC_faithfulness_baseline", __doc__)
    parser.add_argument("--maps-dir", required=True, help="folder of <class>/<stem>.npy maps (one method)")
    parser.add_argument("--eval-list", default="demo", help="eval list of 'path label' lines, or 'demo'")
    parser.add_argument("--Datasets", default=".", help="folder the eval-list paths are relative to")
    parser.add_argument("--begin", type=int, default=0, help="first line (0-based) of the eval list")
    parser.add_argument("--end", type=int, default=-1, help="one past the last line; -1 = through the last line")
    parser.add_argument("--preset", default="smdl_baseline", choices=list(PRESETS),
                        help="insertion/deletion definition")
    parser.add_argument("--steps", type=int, default=None,
                        help="number of steps of smdl_baseline / xplique (>= 1), e.g. 50 for SMDL's Xplique runs; "
                             "unset = the preset's")
    parser.add_argument("--mufidelity", default="", choices=list(MUFIDELITY_PRESETS) + [""],
                        help="also compute MuFidelity with this preset ('' = no)")
    parser.add_argument("--budgets", type=float, nargs="*", default=[],
                        help="highest confidence within these area fractions in (0, 1] (e.g. 0.25 0.5 0.75 1.0), "
                             "spec smdl §5.3")
    parser.add_argument("--misclassified-only", action="store_true",
                        help="highest confidence over the samples the model gets wrong (the paper's setting)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the MuFidelity masks")
    add_model_flags(parser)
    parser.add_argument("--eval-batch-size", type=int, default=64, help="perturbed images built at once (memory only)")
    parser.add_argument("--allow-skipped", action="store_true",
                        help="exit 0 even when some map files were unusable and left out of the means")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return normalise_flags(parser)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    summary = exit_on_toolkit_error(evaluate_maps)(args)
    print(f"{summary['num_images']} images, preset {summary['preset']} ({summary['n_steps']} steps): Insertion AUC "
          f"{summary['insertion_auc']:.4f} (higher is better), Deletion AUC {summary['deletion_auc']:.4f} (lower is better)")
    if "mufidelity" in summary:
        print(f"MuFidelity ({summary['mufidelity']['preset']}): {summary['mufidelity']['score']:.4f}")
    for row in summary.get("highest_confidence", []):
        print(f"budget {row['budget']:.2f}: highest confidence {row['highest_confidence_mean']:.4f} ± "
              f"{row['highest_confidence_std']:.4f} at area {row['area_mean']:.4f} ({row['samples']} samples)")
    if summary["missing"]:
        print(f"no map for {len(summary['missing'])} samples: {', '.join(summary['missing'][:5])}")
    report_skipped(summary["skipped"], summary["num_images"])
    if summary["skipped"] and not args.allow_skipped:
        raise SystemExit(1)
    return summary


if __name__ == "__main__":
    main()
