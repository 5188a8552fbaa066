"""Driver options for the model families and region sources of the originals (CLIP zero-shot, embedding,
evidential confidence, prior / SAM / precomputed regions, LiMA's counterfactual record).

:mod:`submodular_attribution.driver` calls these hooks; every preset is a :class:`~.presets.Preset` of the one
driver (defaults go in ``Preset.extra_defaults``, keyed by argparse dest).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from common.errors import ToolkitError


def add_family_arguments(parser: argparse.ArgumentParser) -> None:
    """The per-image region folders, the zero-shot and embedding models, the evidential confidence and the
    counterfactual record (the divisions' own options come from their declarations)."""
    inputs = parser.add_argument_group("per-image region inputs (--superpixel-algorithm prior | masks)")
    inputs.add_argument("--prior-dir", default=None,
                        help="folder of prior saliency maps: <dir>/<class>/<stem>.npy or <dir>/<stem>.npy, H x W float "
                             "(e.g. baseline_attribution output <out>/<run>/<Method>)")
    inputs.add_argument("--mask-dir", default=None,
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


def region_folders(args: argparse.Namespace) -> dict[str, str | None]:
    return {"prior_dir": args.prior_dir, "mask_dir": args.mask_dir}


def uses_uncertainty_model(args: argparse.Namespace) -> bool:
    return bool(args.uncertainty_model) and str(args.uncertainty_model).lower() != "none"


def validate_family_args(args: argparse.Namespace) -> None:
    """Check the files the families need, before any model loads."""
    from submodular_attribution.region_inputs import check_region_folders

    check_region_folders(args.superpixel_algorithm, region_folders(args))
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
    """The family options that change results, for :func:`submodular_attribution.driver.run_identity`.

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
