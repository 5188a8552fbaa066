"""The one SMDL driver. Every ``smdl_explanation_*`` entry module is a :class:`Preset` of it.

Per sample: load -> resize -> divide -> greedy -> write ``npy`` then ``json`` atomically under
``<save-dir>/<division>-<λ1>-<λ2>-<λ3>-<λ4>[-<selector>]/{json,npy}/<class>/<name>``. A sample whose json exists
is skipped (resume); a sample that fails is logged to ``errors.jsonl`` and the run goes on.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common.cli_style import LazyChoices, normalise_flags
from common.errors import ToolkitError, exit_on_toolkit_error
from common.eval_list import DEMO_LIST, Sample, parse_eval_list, select_range
from common.names import SELECTORS
from common.progress import log_line
from common.results import BatchReport, run_samples, write_json_atomic, write_npy_atomic
from common.run_identity import RunIdentity, bind_run_folder, file_sha256, result_matches
from common.sharding import add_scale_arguments, resolve_shard
from common.validation import (
    DEFAULT_INPUT_SIZE,
    DEFAULT_MAX_REGIONS,
    check_division,
    check_input_file,
    check_range,
    check_weights,
    check_writable_dir,
)
from models import DEFAULT_MODEL
from submodular_attribution import family_options
from submodular_attribution.region_inputs import sample_region_inputs
from submodular_attribution.regions import DIVISIONS

if TYPE_CHECKING:
    from submodular_attribution.explainer import Explanation


def _selector_names() -> list[str]:
    from submodular_attribution.selection import SELECTORS

    return sorted(SELECTORS)


def _effectiveness_feature_names() -> tuple[str, ...]:
    from submodular_attribution.objective import EFFECTIVENESS_FEATURES

    return EFFECTIVENESS_FEATURES


def _fill_names() -> tuple[str, ...]:
    from submodular_attribution.masking import FILLS

    return FILLS

DEFAULT_REGION_SIZE = 30
DEFAULT_GRID_SIZE = 7
MIN_IMAGE_SIDE = 8  # pixels; smaller images are upsampled blocks with nothing to divide


@dataclass(frozen=True)
class Preset:
    """Defaults of one entry module."""

    prog: str
    description: str
    datasets: str = "datasets/imagenet/ILSVRC2012_img_val"
    eval_list: str = DEMO_LIST
    division: str = "slico"
    region_size: int = DEFAULT_REGION_SIZE
    lambdas: tuple[float, float, float, float] = (0.0, 0.05, 1.0, 1.0)
    save_dir: str = "./submodular_results/imagenet-{model}/"
    model: str = DEFAULT_MODEL
    selector: str = "greedy"
    effectiveness_features: str = "penultimate"
    pending_samples: int = 8
    extra_defaults: dict[str, Any] = field(default_factory=dict)


def shipped_config(relative: str) -> str:
    """Absolute path of a file shipped in the project's ``configs/`` folder (class-name and template lists)."""
    return str(Path(__file__).resolve().parents[1] / "configs" / relative)


def build_parser(preset: Preset) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"python -m {preset.prog}",
        description=preset.description,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    data = parser.add_argument_group("data")
    data.add_argument("--Datasets", default=preset.datasets, help="folder the eval-list paths are relative to")
    data.add_argument("--eval-list", default=preset.eval_list,
                      help="text file of 'relative/path class_id' lines, or 'demo' for the built-in real photos")
    data.add_argument("--begin", type=int, default=0, help="first line (0-based) of the eval list to process")
    data.add_argument("--end", type=int, default=-1, help="one past the last line; -1 = through the last line")

    regions = parser.add_argument_group("regions")
    regions.add_argument("--superpixel-algorithm", default=preset.division, choices=sorted(DIVISIONS),
                         help="how the image is divided into sub-regions")
    regions.add_argument("--region-size", type=int, default=preset.region_size,
                         help="SLICO region size in pixels at 224x224 (30 gives ~49 regions)")
    regions.add_argument("--grid-size", type=int, default=DEFAULT_GRID_SIZE, help="cells per side for --superpixel-algorithm grid")
    regions.add_argument("--max-regions", type=int, default=DEFAULT_MAX_REGIONS,
                         help="refuse divisions expected to give more regions (greedy costs ~m^2/2 forwards)")

    objective = parser.add_argument_group("objective (F = λ1·confidence + λ2·effectiveness + λ3·consistency + λ4·collaboration)")
    for index, (term, default) in enumerate(zip(("confidence", "effectiveness", "consistency", "collaboration"), preset.lambdas), 1):
        objective.add_argument(f"--lambda{index}", type=float, default=default, help=f"weight of the {term} term")
    objective.add_argument("--selector", default=preset.selector, type=LazyChoices(_selector_names, SELECTORS, "submodular_attribution.selection.base"), metavar="NAME",
                           help="subset selection algorithm (greedy: the original)")
    objective.add_argument("--fill", default="black", type=LazyChoices(_fill_names), metavar="FILL",
                           help="what removed pixels become (black: the original; mean, blur)")
    objective.add_argument("--allow-negative", action="store_true", help="accept negative lambdas (otherwise refused)")
    objective.add_argument("--effectiveness-features", default=preset.effectiveness_features, type=LazyChoices(_effectiveness_feature_names), metavar="FEATURES",
                           help="features of the single-region images the effectiveness distances use: the pooled "
                                "penultimate activations or the logits (the model's output vector, as the original)")
    search = parser.add_argument_group("selector options (each selector reads the ones it uses)")
    search.add_argument("--pending-samples", type=int, default=preset.pending_samples,
                        help="bidirectional: candidates the backward half evaluates per step (LiMA: 8, classifiers 12)")
    search.add_argument("--lazy-batch", type=int, default=4, help="lazy: regions re-scored per batch")
    search.add_argument("--forward-budget", type=int, default=0,
                        help="lazy, window, stochastic, coarse, surrogate, onesided: forwards per image for setup + search + curves "
                             "(0 = no budget; lazy is then exact, coarse refines every group, surrogate fits m random pairs)")
    search.add_argument("--window", type=int, default=8,
                        help="window, onesided, coarse --inner window: most regions of the prior order compared per step")
    search.add_argument("--prior", default="score", choices=["score", "log"],
                        help="window: order regions by F of the single region (score) or by log p(kept) - log p(removed) (log)")
    search.add_argument("--head-steps", type=int, default=0, help="tail: full greedy batches before the tail is ordered")
    search.add_argument("--sample-size", type=int, default=2, help="stochastic: regions scored per step")
    search.add_argument("--seed", type=int, default=0, help="seed of the stochastic selectors (same seed, same ranking)")
    search.add_argument("--groups", type=int, default=10,
                        help="coarse: spatial super-regions ranked first; onesided --order groups: groups of the prior")
    search.add_argument("--inner", default="greedy", choices=["greedy", "window"],
                        help="coarse: order inside the groups by greedy (best groups first, within the budget) or by "
                             "a --window search over the groups' order")
    search.add_argument("--order", default="leave-one-out", choices=["leave-one-out", "groups", "mixed"],
                        help="onesided: prior order, by p(image without the region), or groups by F first, then that, "
                             "or mixed (leave-one-out on the deletion side, groups on the insertion side)")
    search.add_argument("--switch-probability", type=float, default=0.05,
                        help="onesided: target probability of the kept prefix at which candidates are compared on "
                             "the kept image instead of the complement image")

    model = parser.add_argument_group("model")
    model.add_argument("--model", default=preset.model,
                       help="black box: a registry classifier (efficientnet_lite0 runs offline; resnet50, vgg16, vit_b_16, "
                            "... need --weights; models.list_models() has them all); clip:<open_clip architecture> "
                            "(zero-shot); embed:<model> (reference embedding)")
    model.add_argument("--weights", default=None,
                       help="local weights file (torchvision / open_clip checkpoint; or an open_clip pretrained tag already "
                            "in the local cache); this machine cannot download")
    model.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, or auto")
    model.add_argument("--batch-size", type=int, default=32, help="images per model forward (memory vs speed)")
    model.add_argument("--amp", default=None, choices=["bf16"],
                       help="bfloat16 autocast for the forwards on CUDA (ignored, with a note, on CPU)")
    model.add_argument("--compile", action="store_true", help="torch.compile the model on CUDA (ignored, with a note, on CPU)")

    output = parser.add_argument_group("output")
    output.add_argument("--save-dir", default=preset.save_dir, help="results root; {model} is replaced by the model name")
    output.add_argument("--save-region-images", action="store_true",
                        help="save the original's (m, H, W, 3) uint8 ranked-region stack as npy instead of the int16 rank map")
    output.add_argument("--no-progress", action="store_true", help="hide progress bars")
    output.add_argument("--min-target-prob", type=float, default=0.01,
                        help="warn (and flag in the json) when the model gives the explained class a lower probability on the full image")
    output.add_argument("--prefetch", type=int, default=2,
                        help="samples loaded and divided ahead on a background thread (0 = none)")
    add_scale_arguments(parser)
    parser.add_argument("--config", default=None,
                        help="YAML file of flag defaults (keys are flag names, e.g. lambda2: 0.05); command-line flags win")
    family_options.add_family_arguments(parser)
    parser.set_defaults(**preset.extra_defaults)
    return parser


SELECTOR_FLAGS = ("pending_samples", "lazy_batch", "forward_budget", "window", "prior", "head_steps", "sample_size", "seed",
                  "groups", "inner", "order", "switch_probability")


def selector_options(args: argparse.Namespace) -> dict[str, Any]:
    """Every selector flag; :func:`get_selector` passes each selector the ones its constructor takes."""
    return {"progress": not args.no_progress, **{flag: getattr(args, flag) for flag in SELECTOR_FLAGS}}


def apply_config(parser: argparse.ArgumentParser, argv: list[str] | None) -> None:
    """Read ``--config FILE`` (YAML mapping of flag names to values) into the parser's defaults."""
    known, _ = parser.parse_known_args(argv)
    if not known.config:
        return
    import yaml

    path = Path(known.config)
    if not path.is_file():
        raise ToolkitError(f"--config {path}: file not found")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ToolkitError(f"--config {path}: invalid YAML{where}") from None
    if not isinstance(values, dict):
        raise ToolkitError(f"--config {path}: expected a mapping of flag names to values")
    dests = {action.dest for action in parser._actions}
    normalised = {str(key).lstrip("-").replace("-", "_"): value for key, value in values.items()}
    unknown = sorted(set(normalised) - dests)
    if unknown:
        raise ToolkitError(f"--config {path}: unknown keys {', '.join(unknown)}; use the flag names of --help")
    for action in parser._actions:  # registry-backed flags: one line here, not argparse's usage + error
        value = normalised.get(action.dest)
        if isinstance(action.type, LazyChoices) and value is not None and value not in action.type:
            raise ToolkitError(f"--{action.dest.replace('_', '-')} {value}: choose one of {', '.join(action.type)}")
    parser.set_defaults(**normalised)


def _float_name(value: float) -> str:
    return repr(float(value))


def run_folder_name(args: argparse.Namespace) -> str:
    """``<division>-<λ1>-<λ2>-<λ3>-<λ4>[-<selector>]`` as the original (floats printed by Python), with the
    division's size appended when it is not the default."""
    division = family_options.family_division_name(args) or args.superpixel_algorithm
    if division == "slico" and args.region_size != DEFAULT_REGION_SIZE:
        division = f"slico{args.region_size}"
    elif division == "grid":
        division = f"grid{args.grid_size}x{args.grid_size}"
    parts = [division] + [_float_name(v) for v in (args.lambda1, args.lambda2, args.lambda3, args.lambda4)]
    if args.selector != "greedy":
        parts.append(args.selector + selector_folder_suffix(args))
    if args.fill != "black":
        parts.append(f"fill-{args.fill}")
    if getattr(args, "effectiveness_features", "penultimate") != "penultimate" and args.lambda2 != 0:
        parts.append(f"eff-{args.effectiveness_features}")
    return "-".join(parts)


def selector_folder_suffix(args: argparse.Namespace) -> str:
    """The options that change a selector's ranking, so runs with other options never share (resume) a folder;
    bidirectional as LiMA's ``-pending-samples-<P>``."""
    selector = args.selector
    if selector == "bidirectional":
        return f"-pending-samples-{args.pending_samples}"
    if selector == "lazy":
        return f"-batch-{args.lazy_batch}" + (f"-budget-{args.forward_budget}" if args.forward_budget > 0 else "")
    if selector == "window":
        return f"-{args.window}-{args.prior}" + (f"-budget-{args.forward_budget}" if args.forward_budget > 0 else "")
    if selector == "tail":
        return f"-head-{args.head_steps}"
    if selector == "stochastic":
        return f"-sample-{args.sample_size}-seed-{args.seed}" + (f"-budget-{args.forward_budget}" if args.forward_budget > 0 else "")
    if selector == "coarse":
        inner = "greedy" if args.inner == "greedy" else f"window-{args.window}"
        return f"-groups-{args.groups}-{inner}" + (f"-budget-{args.forward_budget}" if args.forward_budget > 0 else "")
    if selector == "onesided":
        order = f"{args.order}-{args.groups}" if args.order in ("groups", "mixed") else args.order
        return (f"-{args.window}-{order}-switch-{args.switch_probability:g}"
                + (f"-budget-{args.forward_budget}" if args.forward_budget > 0 else ""))
    if selector == "surrogate":
        return f"-seed-{args.seed}" + (f"-budget-{args.forward_budget}" if args.forward_budget > 0 else "")
    return ""


def division_params(args: argparse.Namespace) -> dict[str, Any]:
    if args.superpixel_algorithm == "slico":
        params = {"region_size": args.region_size}
        return params if args.ruler == family_options.DEFAULT_RULER else {**params, "ruler": args.ruler}
    if args.superpixel_algorithm == "grid":
        return {"grid_size": args.grid_size}
    return family_options.family_division_params(args)


def result_paths(run_dir: Path, sample: Sample, target: int | None) -> tuple[Path, Path]:
    """``json/<class>/<stem>.json`` and ``npy/<class>/<stem>.npy``; class is the label, or ``top1`` when unlabelled."""
    folder = class_folder(target)
    return run_dir / "json" / folder / f"{sample.stem}.json", run_dir / "npy" / folder / f"{sample.stem}.npy"


def class_folder(label: int | None) -> str:
    """Result sub-folder of a sample: its label, or ``top1`` when unlabelled."""
    return str(label) if label is not None else "top1"


def save_explanation(explanation: Explanation, json_path: Path, npy_path: Path, image_ref: str,
                     class_names: list[str], region_images: bool = False) -> None:
    """Write the npy first and the json last: a json on disk means the sample is complete."""
    array = explanation.region_images() if region_images else explanation.rank_map()
    write_npy_atomic(npy_path, array)
    write_json_atomic(json_path, explanation.to_json(image_ref, class_names))


def validate_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Check every flag before the model loads: choices (also from ``--config``), numeric ranges, lambdas,
    the division's region count at the model input size, the shard and a writable ``--save-dir`` (the
    ``--weights`` file is checked at the start of :func:`run`: shipped configs name a file the user supplies)."""
    for action in parser._actions:
        value = getattr(args, action.dest, None)
        if action.choices is not None and value is not None and value not in action.choices:
            flag = action.option_strings[-1] if action.option_strings else action.dest
            raise ToolkitError(f"{flag} {value}: choose one of {', '.join(map(str, action.choices))}")
    check_range("--batch-size", args.batch_size, 1)
    check_range("--max-regions", args.max_regions, 2)
    check_range("--begin", args.begin, 0)
    check_range("--end", args.end, -1)
    check_range("--min-target-prob", args.min_target_prob, 0.0, 1.0)
    check_range("--prefetch", args.prefetch, 0, 64)
    check_range("--heartbeat-seconds", args.heartbeat_seconds, 0.01)
    check_range("--stale-seconds", args.stale_seconds, 2 * args.heartbeat_seconds,
                hint="keep it at least twice --heartbeat-seconds")
    check_range("--region-size", args.region_size, 1)
    check_range("--grid-size", args.grid_size, 1)
    check_weights({f"--lambda{i}": getattr(args, f"lambda{i}") for i in range(1, 5)}, args.allow_negative)
    check_division(args.superpixel_algorithm, DEFAULT_INPUT_SIZE, region_size=args.region_size,
                   grid_size=args.grid_size, max_regions=args.max_regions)
    for flag in ("pending_samples", "lazy_batch", "sample_size", "window", "groups"):
        check_range(f"--{flag.replace('_', '-')}", getattr(args, flag), 1)
    check_range("--forward-budget", args.forward_budget, 0)
    check_range("--switch-probability", args.switch_probability, 0.0, 1.0)
    from models.registry import check_model_name

    check_model_name(args.model)
    family_options.validate_family_args(args)
    resolve_shard(args.shard)
    if not args.status:
        check_writable_dir("--save-dir", run_root(args))


def run_root(args: argparse.Namespace) -> Path:
    """``--save-dir`` with ``{model}`` filled in."""
    return Path(args.save_dir.format(model=args.model))


def identity_selector_options(args: argparse.Namespace) -> dict[str, Any]:
    """The selector flags the chosen selector's constructor takes (as :func:`get_selector` passes them), without
    ``progress``; greedy takes none. Flags the selector ignores cannot change its ranking."""
    import inspect

    from submodular_attribution.selection import SELECTORS

    accepted = inspect.signature(SELECTORS[args.selector].__init__).parameters
    return {flag: getattr(args, flag) for flag in SELECTOR_FLAGS if flag in accepted}


def run_identity(args: argparse.Namespace) -> RunIdentity:
    """The settings that change results (see :mod:`common.run_identity`).

    Settings added after the first release of run identity (selector options, effectiveness features, the
    family options of :func:`family_options.identity_settings`) are only listed when they apply / differ from
    the original's, so a folder bound by a run that used none of them keeps its key."""
    from submodular_attribution.explainer import RESULT_VERSION

    added: dict[str, Any] = dict(family_options.identity_settings(args))
    options = identity_selector_options(args)
    if options:
        added["selector_options"] = options
    if args.effectiveness_features != "penultimate":
        added["effectiveness_features"] = args.effectiveness_features
    return RunIdentity.from_settings({
        **added,
        "model": args.model,
        "weights_sha256": file_sha256(args.weights),
        "dataset_root": None if args.eval_list == DEMO_LIST else str(Path(args.Datasets).absolute()),
        "division": args.superpixel_algorithm,
        "division_params": division_params(args),
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


def warn_sample(name: str, message: str, warnings: list[str]) -> None:
    """Record a per-sample warning (stored in the json) and print it on stderr."""
    warnings.append(message)
    log_line(f"warning: {name}: {message}")


def run(args: argparse.Namespace) -> tuple[Path, BatchReport]:
    """Explain every selected sample of the eval list; returns the run folder and what happened."""
    from common.claims import ClaimBoard
    from common.status import format_status, run_status

    if not (args.model.startswith("clip:") and args.weights and "/" not in args.weights and not Path(args.weights).suffix):
        check_input_file("--weights", args.weights)  # here, not in validate_args: shipped configs name a file to supply
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
    from models import load_model
    from submodular_attribution.explainer import SubmodularExplainer
    from submodular_attribution.objective import Lambdas

    blackbox = load_model(args.model, weights=args.weights, device=args.device, batch_size=args.batch_size,
                          **family_options.model_options(args))
    for note in blackbox.enable_fast_paths(args.amp, args.compile):
        print(note)
    if blackbox.input_size != DEFAULT_INPUT_SIZE:
        check_division(args.superpixel_algorithm, blackbox.input_size, region_size=args.region_size,
                       grid_size=args.grid_size, max_regions=args.max_regions)
    explainer = SubmodularExplainer(
        blackbox,
        division=args.superpixel_algorithm,
        division_params=division_params(args),
        lambdas=Lambdas(args.lambda1, args.lambda2, args.lambda3, args.lambda4),
        selector=args.selector,
        selector_options=selector_options(args),
        fill=args.fill,
        effectiveness_features=args.effectiveness_features,
        confidence_term=family_options.confidence_term(args),
    )

    def prepare(sample: Sample) -> tuple[Any, Any, list[str]]:
        """Load, resize and divide (no model): runs ahead on the prefetch thread."""
        from submodular_attribution.regions import divide

        image = sample.load()
        if min(image.shape[:2]) < MIN_IMAGE_SIDE:
            raise ToolkitError(f"{sample.ref}: image is {image.shape[1]}x{image.shape[0]} pixels, smaller than "
                               f"{MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE}; nothing to divide into regions")
        image = blackbox.resize(image)
        region_inputs = sample_region_inputs(args.superpixel_algorithm, family_options.region_folders(args),
                                             class_folder(sample.label), sample.stem)
        labels = divide(image, explainer.division, **explainer.division_params, **region_inputs)
        warnings: list[str] = []
        regions = int(labels.max()) + 1
        if regions < 2:
            warn_sample(sample.name, f"the division gives {regions} region; the ranking is trivial", warnings)
        return image, labels, warnings

    def process(sample: Sample, prepared: tuple[Any, Any, list[str]]) -> None:
        image, labels, warnings = prepared
        uncertainty = getattr(explainer.confidence_term, "uncertainty", None)
        uncertainty_before = uncertainty.forward_count if uncertainty is not None else 0
        explanation = explainer.explain(image, sample.label, labels=labels)
        if explanation.org_score < args.min_target_prob:
            warn_sample(sample.name, f"the model gives class {explanation.target} p = {explanation.org_score:.3g} on "
                        f"the full image (< --min-target-prob {args.min_target_prob}); the explanation is of a class "
                        "the model does not see", warnings)
        explanation.extra.update({
            "division_params": explainer.division_params,
            "identity_key": identity.key,
            "min_target_prob": args.min_target_prob,
            "low_target_prob": explanation.org_score < args.min_target_prob,
            "warnings": warnings,
        })
        json_path, npy_path = result_paths(run_dir, sample, sample.label)
        if uncertainty is not None:
            explanation.extra["uncertainty_forward_passes"] = uncertainty.forward_count - uncertainty_before
        if args.record_counterfactual:
            family_options.record_counterfactual(explainer, explanation, blackbox.class_names)
        save_explanation(explanation, json_path, npy_path, sample.ref, blackbox.class_names, args.save_region_images)

    with ClaimBoard(run_dir, heartbeat_seconds=args.heartbeat_seconds, stale_seconds=args.stale_seconds) as claims:
        report = run_samples(
            samples,
            run_dir=run_dir,
            is_done=is_done,
            process=process,
            prepare=prepare,
            prefetch_depth=args.prefetch,
            claims=claims,
            desc=Path(run_dir).name,
            progress=not args.no_progress,
        )
    print(f"{report.summary()}; results in {run_dir}" + (f"; failures logged to {run_dir / 'errors.jsonl'}" if report.failed else ""))
    return run_dir, report


def main(preset: Preset, argv: list[str] | None = None) -> tuple[Path, BatchReport]:
    """Parse ``argv`` with the preset's defaults and run; user errors exit with one line and status 2."""
    parser = normalise_flags(build_parser(preset))
    exit_on_toolkit_error(apply_config)(parser, argv)
    args = parser.parse_args(argv)
    exit_on_toolkit_error(validate_args)(parser, args)
    return exit_on_toolkit_error(run)(args)


def cli_entry(preset: Preset) -> None:
    """``if __name__ == "__main__"`` body of an entry module: exit status 1 when any sample failed."""
    _, report = main(preset)
    raise SystemExit(1 if report.failed else 0)

