"""Driver options for the model families and region sources of the originals (CLIP zero-shot, embedding,
evidential confidence, prior / SAM / precomputed regions, LiMA's counterfactual record).

:mod:`submodular_attribution.cli` calls these hooks; every preset module is still a :class:`~cli.Preset` of the
one driver (defaults go in ``Preset.extra_defaults``, keyed by argparse dest).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from common.errors import ToolkitError
from submodular_attribution.regions.prior import PRIOR_MODES

SAM_DEFAULTS = {"model_type": "vit_h", "stability_score_thresh": 0.8, "points_per_side": 32, "pred_iou_thresh": 0.88}
DEFAULT_RULER = 20.0


def add_family_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of the prior / SAM / mask divisions, the zero-shot and embedding models, the evidential
    confidence and the counterfactual record."""
    prior = parser.add_argument_group("prior-saliency regions (--superpixel-algorithm prior)")
    prior.add_argument("--prior-dir", default=None,
                       help="folder of prior saliency maps: <dir>/<class>/<stem>.npy or <dir>/<stem>.npy, H x W float "
                            "(e.g. baseline_attribution output <out>/<run>/<Method>)")
    prior.add_argument("--prior-grid-size", type=int, default=10, help="g: the prior is read on a g x g grid (CUB 10, faces 28)")
    prior.add_argument("--prior-cells-per-region", type=int, default=4,
                       help="n: grid cells per region, in descending prior order; floor(g*g/n) regions (CUB 4, faces 8)")
    prior.add_argument("--prior-mode", default="patch", choices=PRIOR_MODES,
                       help="patch: prior-sorted grid cells; pixel: prior-sorted pixels in equal groups; "
                            "random-patch: a plain grid, no prior")
    prior.add_argument("--pixel-partition-number", type=int, default=112, help="groups of pixels for --prior-mode pixel")
    prior.add_argument("--random-patch-number", type=int, default=14, help="cells per side for --prior-mode random-patch (CUB 14, faces 28)")
    prior.add_argument("--ruler", type=float, default=DEFAULT_RULER, help="SLICO compactness (faces: 40)")

    sam = parser.add_argument_group("SAM / precomputed regions (--superpixel-algorithm sam | masks)")
    sam.add_argument("--sam-checkpoint", default=None, help="segment-anything checkpoint file (e.g. sam_vit_h_4b8939.pth)")
    sam.add_argument("--sam-model-type", default=SAM_DEFAULTS["model_type"], choices=("vit_h", "vit_l", "vit_b"),
                     help="SAM architecture of --sam-checkpoint")
    sam.add_argument("--sam-stability-score-thresh", type=float, default=SAM_DEFAULTS["stability_score_thresh"],
                     help="SamAutomaticMaskGenerator stability threshold (original 0.8; CUB tutorial 0.2)")
    sam.add_argument("--sam-points-per-side", type=int, default=SAM_DEFAULTS["points_per_side"], help="SAM point grid per side")
    sam.add_argument("--sam-pred-iou-thresh", type=float, default=SAM_DEFAULTS["pred_iou_thresh"], help="SAM predicted-IoU threshold")
    sam.add_argument("--mask-dir", default=None,
                     help="folder of precomputed regions for --superpixel-algorithm masks: <dir>/<class>/<stem>.npy "
                          "label map (H, W) or mask stack (K, H, W)")

    zero_shot = parser.add_argument_group("zero-shot models (--model clip:ARCH)")
    zero_shot.add_argument("--class-names", default=None, help="text file, one class name per line in class-id order (default: ImageNet)")
    zero_shot.add_argument("--templates", default=None, help="text file, one prompt per line with {} for the name (default: the 80 ImageNet templates)")
    zero_shot.add_argument("--bgr", action="store_true", help="feed BGR as RGB, as the original CLIP/Quilt scripts did")
    zero_shot.add_argument("--prototype-cache", default=None, help="folder of cached class prototypes (default ~/.cache/region-attribution/prototypes)")
    zero_shot.add_argument("--prototype-recipe", default="ensemble", choices=("ensemble", "raw"),
                           help="ensemble: normalise, average, normalise (CLIP); raw: raw text embeddings (Quilt)")
    zero_shot.add_argument("--logit-scale", type=float, default=100.0, help="prototype scale (CLIP 100, Quilt 10)")

    embedding = parser.add_argument_group("embedding models (--model embed:NAME) and evidential confidence")
    embedding.add_argument("--reference", default=None,
                           help="reference for embed: models, a .npy (d,) embedding or an image (default: each image's own)")
    embedding.add_argument("--uncertainty-model", default=None,
                           help="EDL network for the confidence term (a torchvision architecture, e.g. resnet101); "
                                "'none' or unset = entropy confidence")
    embedding.add_argument("--uncertainty-weights", default=None, help="state dict of --uncertainty-model")
    embedding.add_argument("--evidence-scale", type=float, default=1.0, help="s in alpha = exp(clamp(s*logits, -10, 10)) + 1 (faces 5)")

    parser.add_argument("--record-counterfactual", action="store_true",
                        help="also store the top-1 (failure) label, its scores and its curve over the ranked prefixes (LiMA)")


def family_division_name(args: argparse.Namespace) -> str | None:
    """Run-folder name of the division for the families' divisions; None for the others."""
    division = args.superpixel_algorithm
    if division == "prior":
        if args.prior_mode == "pixel":
            return f"prior-pixel{args.pixel_partition_number}"
        if args.prior_mode == "random-patch":
            return f"patch{args.random_patch_number}x{args.random_patch_number}"
        return f"prior{args.prior_grid_size}x{args.prior_grid_size}-{args.prior_cells_per_region}"
    if division == "sam":
        return "SAM"
    if division == "masks":
        return "masks"
    if division == "slico" and args.ruler != DEFAULT_RULER:
        size = "" if args.region_size == 30 else str(args.region_size)
        return f"slico{size}r{args.ruler:g}"
    return None


def family_division_params(args: argparse.Namespace) -> dict[str, Any]:
    division = args.superpixel_algorithm
    if division == "prior":
        return {"grid_size": args.prior_grid_size, "cells_per_region": args.prior_cells_per_region, "mode": args.prior_mode,
                "pixel_groups": args.pixel_partition_number, "patch_number": args.random_patch_number}
    if division == "sam":
        return {"checkpoint": args.sam_checkpoint, "model_type": args.sam_model_type,
                "stability_score_thresh": args.sam_stability_score_thresh, "points_per_side": args.sam_points_per_side,
                "pred_iou_thresh": args.sam_pred_iou_thresh, "device": args.device}
    return {}


def region_folders(args: argparse.Namespace) -> dict[str, str | None]:
    return {"prior_dir": args.prior_dir, "mask_dir": args.mask_dir}


def uses_uncertainty_model(args: argparse.Namespace) -> bool:
    return bool(args.uncertainty_model) and str(args.uncertainty_model).lower() != "none"


def validate_family_args(args: argparse.Namespace) -> None:
    """Check the files and sizes the families need, before any model loads."""
    from submodular_attribution.region_inputs import check_region_folders

    check_region_folders(args.superpixel_algorithm, region_folders(args))
    for flag in ("prior_grid_size", "prior_cells_per_region", "pixel_partition_number", "random_patch_number", "sam_points_per_side"):
        if getattr(args, flag) < 1:
            raise ToolkitError(f"--{flag.replace('_', '-')} {getattr(args, flag)}: must be >= 1")
    if args.superpixel_algorithm == "sam":
        if not args.sam_checkpoint:
            raise ToolkitError(f"--sam-checkpoint is required for SAM regions: the {args.sam_model_type} .pth file")
        if not Path(args.sam_checkpoint).is_file():
            raise ToolkitError(f"--sam-checkpoint {args.sam_checkpoint}: file not found; download the SAM {args.sam_model_type} checkpoint there")
    for flag in ("class_names", "templates", "reference"):
        value = getattr(args, flag)
        if value and not Path(value).is_file():
            raise ToolkitError(f"--{flag.replace('_', '-')} {value}: file not found")
    if uses_uncertainty_model(args):
        if not args.uncertainty_weights:
            raise ToolkitError(f"--uncertainty-model {args.uncertainty_model} needs --uncertainty-weights FILE "
                               "(or --uncertainty-model none for the entropy confidence)")
        if not Path(args.uncertainty_weights).is_file():
            raise ToolkitError(f"--uncertainty-weights {args.uncertainty_weights}: file not found (the EDL network's state dict)")


def model_options(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword options of :func:`models.load_model` for the ``clip:`` / ``embed:`` families."""
    if args.model.startswith("clip:") or args.model.startswith("embed:clip:"):
        options = {"class_names": args.class_names, "templates": args.templates, "bgr": args.bgr,
                   "prototype_cache": args.prototype_cache, "recipe": args.prototype_recipe,
                   "logit_scale": args.logit_scale, "progress": not args.no_progress}
    else:
        options = {}
    if args.model.startswith("embed:") and args.reference:
        options["reference"] = args.reference
    return options


def identity_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The family options that change results, for :func:`submodular_attribution.cli.run_identity`.

    Only the options the run actually uses are listed (zero-shot options for ``clip:`` models, ``--reference``
    for ``embed:`` models, the evidential options with ``--uncertainty-model``, ``--record-counterfactual`` when
    set), each file by the sha256 of its content (``None`` = the shipped default). An option the run does not use
    cannot change its results, so it does not make a folder refuse; and a run with none of them keeps the
    identity key it had before these were recorded (empty dict = nothing added).
    """
    from common.run_identity import file_sha256

    settings: dict[str, Any] = {}
    if args.model.startswith("clip:") or args.model.startswith("embed:clip:"):
        settings["zero_shot"] = {"class_names_sha256": file_sha256(args.class_names),
                                 "templates_sha256": file_sha256(args.templates), "bgr": bool(args.bgr),
                                 "prototype_recipe": args.prototype_recipe, "logit_scale": float(args.logit_scale)}
    if args.model.startswith("embed:"):
        settings["reference_sha256"] = file_sha256(args.reference)  # None: each image's own embedding
    if uses_uncertainty_model(args):
        settings["evidential"] = {"uncertainty_model": args.uncertainty_model,
                                  "uncertainty_weights_sha256": file_sha256(args.uncertainty_weights),
                                  "evidence_scale": float(args.evidence_scale)}
    if args.record_counterfactual:
        settings["record_counterfactual"] = True
    return settings


def confidence_term(args: argparse.Namespace):
    """The evidential confidence of ``--uncertainty-model`` (None = the entropy confidence)."""
    if not uses_uncertainty_model(args):
        return None
    from models.evidential import EvidentialConfidence, load_uncertainty_model

    uncertainty = load_uncertainty_model(args.uncertainty_model, args.uncertainty_weights, args.device, args.batch_size)
    return EvidentialConfidence(uncertainty, args.evidence_scale)


def record_counterfactual(explainer, explanation, class_names: list[str]) -> None:
    """LiMA's ``--record-counterfactual``: the full image's top-1 (``failure_label``), the target's and its
    probability on the full image, and ``failure_score``: its probability for every ranked prefix, aligned
    with ``consistency_score`` (m more forwards)."""
    import torch

    from submodular_attribution.masking import compose_masked, make_fill

    blackbox = explainer.blackbox
    before = blackbox.forward_count
    x = blackbox.to_tensor(explanation.image)[0]
    labels = torch.from_numpy(explanation.labels).long().to(blackbox.device)
    m = explanation.num_regions
    rank_of_region = torch.empty(m, dtype=torch.long)
    rank_of_region[torch.as_tensor(explanation.ranking)] = torch.arange(m)
    prefixes = (rank_of_region[None, :] <= torch.arange(m)[:, None]).to(blackbox.device)  # (m prefixes, m regions)
    fill = make_fill(x, explainer.fill)
    failure = explanation.predicted
    scores = []
    for start in range(0, m, blackbox.batch_size):
        batch = compose_masked(x, fill, labels, prefixes[start : start + blackbox.batch_size])
        scores.append(blackbox.predict(batch)[:, failure])
    full = blackbox.predict(x[None])[0]
    explanation.extra.update({
        "failure_label": failure,
        "failure_name": class_names[failure] if class_names else str(failure),
        "original_gt_score": float(full[explanation.target]),
        "original_failure_score": float(full[failure]),
        "failure_score": [float(v) for v in torch.cat(scores).cpu()],
        "counterfactual_forward_passes": blackbox.forward_count - before,
    })

