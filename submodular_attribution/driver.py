"""The one SMDL driver (a library module): every ``smdl_explanation_*`` / ``lima_explanation_*`` entry module
and ``python -m submodular_attribution.cli`` call :func:`run_preset` with a :class:`~.presets.Preset` of
:data:`~.presets.PRESETS`; scripts and tests call :func:`main` (``main("smdl_explanation_imagenet_superpixel",
argv)``).

Per sample: load -> resize -> divide -> select -> write ``npy`` then ``json`` atomically under
``<save-dir>/<division>-<λ1>-<λ2>-<λ3>-<λ4>[-<selector><options>]/{json,npy}/<class>/<name>``. A sample whose json
exists is skipped (resume); a sample that fails is logged to ``errors.jsonl`` and the run goes on.

This module only composes: the flags come from :mod:`.driver_flags` (the divisions' and selectors' declared
options), the checks from :mod:`.driver_checks`, the division from :class:`.division.Division`, the result json
from :class:`.explainer.Explanation`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common.cli_style import normalise_flags
from common.errors import ToolkitError, exit_on_toolkit_error
from common.eval_list import DEMO_LIST, Sample, parse_eval_list, select_range
from common.progress import log_line
from common.results import BatchReport, run_samples, write_json_atomic, write_npy_atomic
from common.run_identity import RunIdentity, bind_run_folder, file_sha256, result_matches
from common.sharding import resolve_shard
from common.validation import check_input_file
from submodular_attribution import family_options
from submodular_attribution.division import Division
from submodular_attribution.driver_checks import ASSUMED_INPUT_SIZE, cost_line, selector_values, validate_args
from submodular_attribution.driver_flags import apply_config, build_parser
from submodular_attribution.presets import Preset
from submodular_attribution.selection import selector_class
from submodular_attribution.selection.options import folder_suffix, identity_values

if TYPE_CHECKING:
    from submodular_attribution.explainer import SubmodularExplainer

__all__ = ["apply_config", "build_parser", "main", "run", "run_folder_name", "run_identity", "run_preset", "validate_args"]

MIN_IMAGE_SIDE = 8  # pixels; smaller images are upsampled blocks with nothing to divide


def run_folder_name(args: argparse.Namespace) -> str:
    """``<division>-<λ1>-<λ2>-<λ3>-<λ4>[-<selector><options>][-fill-<fill>][-eff-logits]``: floats printed by Python as
    the original; the division's and the selector's parts come from their declarations."""
    parts = [Division.from_args(args).folder_name()] + [repr(float(v)) for v in (args.lambda1, args.lambda2, args.lambda3, args.lambda4)]
    if args.selector != "greedy":
        parts.append(args.selector + folder_suffix(selector_class(args.selector).options, selector_values(args)))
    if args.fill != "black":
        parts.append(f"fill-{args.fill}")
    if getattr(args, "effectiveness_features", "penultimate") != "penultimate" and args.lambda2 != 0:
        parts.append(f"eff-{args.effectiveness_features}")
    if getattr(args, "search_dtype", "fp32") != "fp32":
        parts.append(f"search-{args.search_dtype}")
    return "-".join(parts)


def result_paths(run_dir: Path, sample: Sample, target: int | None) -> tuple[Path, Path]:
    """``json/<class>/<stem>.json`` and ``npy/<class>/<stem>.npy``; class is the label, or ``top1`` when unlabelled."""
    folder = class_folder(target)
    return run_dir / "json" / folder / f"{sample.stem}.json", run_dir / "npy" / folder / f"{sample.stem}.npy"


def class_folder(label: int | None) -> str:
    """Result sub-folder of a sample: its label, or ``top1`` when unlabelled."""
    return str(label) if label is not None else "top1"


def run_root(args: argparse.Namespace) -> Path:
    """``--save-dir`` with ``{model}`` filled in."""
    return Path(args.save_dir.format(model=args.model))


def run_identity(args: argparse.Namespace) -> RunIdentity:
    """The settings that change results (see :mod:`common.run_identity`).

    Settings added after the first release of run identity (selector options, effectiveness features, the
    family options of :func:`family_options.identity_settings`) are only listed when they apply / differ from
    the original's, so a folder bound by a run that used none of them keeps its key."""
    from submodular_attribution.explainer import RESULT_VERSION

    added: dict[str, Any] = dict(family_options.identity_settings(args))
    options = identity_values(selector_class(args.selector).options, selector_values(args))
    if options:
        added["selector_options"] = options
    if args.effectiveness_features != "penultimate":
        added["effectiveness_features"] = args.effectiveness_features
    if getattr(args, "search_dtype", "fp32") != "fp32":
        added["search_dtype"] = args.search_dtype
    return RunIdentity.from_settings({
        **added,
        "model": args.model,
        "weights_sha256": file_sha256(args.weights),
        "dataset_root": None if args.eval_list == DEMO_LIST else str(Path(args.Datasets).absolute()),
        "division": args.superpixel_algorithm,
        "division_params": Division.from_args(args).params,
        "lambdas": [args.lambda1, args.lambda2, args.lambda3, args.lambda4],
        "selector": args.selector,
        "fill": args.fill,
        "npy_format": "region_images" if args.save_region_images else "rank_map",
        "region_folders": {dest: None if folder is None else str(Path(folder).absolute())
                           for dest, folder in family_options.region_folders(args).items()},
        "result_version": RESULT_VERSION,
    })


def select_samples(args: argparse.Namespace) -> list[Sample]:
    """The eval list, ``--begin/--end``, then this process's shard; warns when the range selects nothing."""
    all_samples = parse_eval_list(args.eval_list, args.Datasets)
    if not all_samples:
        raise ToolkitError(f"--eval-list {args.eval_list}: no samples in the list")
    samples = select_range(all_samples, args.begin, args.end)
    if not samples:
        log_line(f"warning: --begin {args.begin} --end {args.end} selects no line of the {len(all_samples)}-line eval list")
    shard = resolve_shard(args.shard)
    if shard.count > 1:
        samples = shard.select(samples)
        print(f"shard {shard}: {len(samples)} samples")
        if not samples:
            log_line(f"warning: shard {shard} has no samples (more shards than lines)")
    return samples


def build_explainer(args: argparse.Namespace, division: Division) -> SubmodularExplainer:
    """Load the model and compose the explainer of the flags (the division checked again at the model's size)."""
    from models import load_model
    from submodular_attribution.explainer import SubmodularExplainer
    from submodular_attribution.objective import Lambdas

    blackbox = load_model(args.model, weights=args.weights, device=args.device, batch_size=args.batch_size,
                          **family_options.model_options(args))
    for note in blackbox.enable_fast_paths(args.amp, args.compile):
        print(note)
    if blackbox.input_size != ASSUMED_INPUT_SIZE:
        division.check(blackbox.input_size, args.max_regions)
    return SubmodularExplainer(
        blackbox, division, lambdas=Lambdas(args.lambda1, args.lambda2, args.lambda3, args.lambda4),
        selector=selector_class(args.selector)(progress=not args.no_progress, **selector_values(args)),
        fill=args.fill, effectiveness_features=args.effectiveness_features,
        confidence_term=family_options.confidence_term(args), min_target_prob=args.min_target_prob,
        record_counterfactual=args.record_counterfactual, search_dtype=args.search_dtype)


def run(args: argparse.Namespace) -> tuple[Path, BatchReport]:
    """Explain every selected sample of the eval list; returns the run folder and what happened."""
    from common.claims import ClaimBoard
    from common.status import format_status, run_status

    if not (args.model.startswith("clip:") and args.weights and "/" not in args.weights and not Path(args.weights).suffix):
        check_input_file("--weights", args.weights)  # here, not in validate_args: shipped configs name a file
    # (a clip: --weights without a path or suffix is an open_clip pretrained tag: models.zero_shot looks for its file)
    samples = select_samples(args)
    run_dir = run_root(args) / run_folder_name(args)
    identity = run_identity(args)

    def is_done(sample: Sample) -> bool:
        return result_matches(result_paths(run_dir, sample, sample.label)[0], identity.key)

    if args.status:
        print(format_status(run_status(run_dir, samples, is_done, stale_seconds=args.stale_seconds)))
        return run_dir, BatchReport()
    bind_run_folder(run_dir, identity, extra={k: v for k, v in vars(args).items() if k not in ("config", "status")})
    todo = [s for s in samples if not is_done(s)]
    print(f"{len(samples)} samples, {len(samples) - len(todo)} already done -> {run_dir}")
    if not todo:
        return run_dir, BatchReport(skipped=len(samples))
    division = Division.from_args(args)
    line, costly = cost_line(division, args.selector, selector_values(args), args.lambda2, ASSUMED_INPUT_SIZE)
    (log_line if costly else print)(line)
    explainer = build_explainer(args, division)
    blackbox = explainer.blackbox

    def prepare(sample: Sample) -> tuple[Any, Any]:
        """Load, resize and divide (no model): runs ahead on the prefetch thread."""
        image = sample.load()
        if min(image.shape[:2]) < MIN_IMAGE_SIDE:
            raise ToolkitError(f"{sample.ref}: image is {image.shape[1]}x{image.shape[0]} pixels, smaller than "
                               f"{MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE}; nothing to divide into regions")
        image = blackbox.resize(image)
        inputs = division.sample_inputs(family_options.region_folders(args), class_folder(sample.label), sample.stem)
        return image, division.divide(image, inputs)

    def process(sample: Sample, prepared: tuple[Any, Any]) -> None:
        image, labels = prepared
        explanation = explainer.explain(image, sample.label, labels=labels)
        for warning in explanation.warnings:
            log_line(f"warning: {sample.name}: {warning}")
        json_path, npy_path = result_paths(run_dir, sample, sample.label)
        write_npy_atomic(npy_path, explanation.region_images() if args.save_region_images else explanation.rank_map())
        write_json_atomic(json_path, explanation.to_json(sample.ref, blackbox.class_names, identity.key))  # last: done

    with ClaimBoard(run_dir, heartbeat_seconds=args.heartbeat_seconds, stale_seconds=args.stale_seconds) as claims:
        report = run_samples(samples, run_dir=run_dir, is_done=is_done, process=process, prepare=prepare,
                             prefetch_depth=args.prefetch, claims=claims, desc=Path(run_dir).name,
                             progress=not args.no_progress)
    print(f"{report.summary()}; results in {run_dir}" + (f"; failures logged to {run_dir / 'errors.jsonl'}" if report.failed else ""))
    return run_dir, report


def main(preset: str | Preset, argv: list[str] | None = None,
         add_flags: Callable[[argparse.ArgumentParser], None] | None = None) -> tuple[Path, BatchReport]:
    """Parse ``argv`` (None = ``sys.argv``) with the defaults of ``preset`` (a :class:`Preset` or a name of
    :data:`~.presets.PRESETS`) and run; user errors exit with one line and status 2. ``add_flags`` adds flags of
    the caller to the parser (``--preset`` of :mod:`.cli`)."""
    parser = normalise_flags(build_parser(preset))
    if add_flags is not None:
        add_flags(parser)
    exit_on_toolkit_error(apply_config)(parser, argv)
    args = parser.parse_args(argv)
    exit_on_toolkit_error(validate_args)(parser, args)
    return exit_on_toolkit_error(run)(args)


def run_preset(preset: str | Preset, argv: list[str] | None = None,
               add_flags: Callable[[argparse.ArgumentParser], None] | None = None) -> None:
    """What an entry module runs as a command: :func:`main`, then exit status 1 when any sample
    failed, else 0."""
    _, report = main(preset, argv, add_flags)
    raise SystemExit(1 if report.failed else 0)
