"""The one SMDL driver. Every ``smdl_explanation_*`` entry module is a :class:`Preset` of it.

Per sample: load -> resize -> divide -> greedy -> write ``npy`` then ``json`` atomically under
``<save-dir>/<division>-<λ1>-<λ2>-<λ3>-<λ4>[-<selector>]/{json,npy}/<class>/<name>``. A sample whose json exists
is skipped (resume); a sample that fails is logged to ``errors.jsonl`` and the run goes on.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.errors import ToolkitError, exit_on_toolkit_error
from common.eval_list import DEMO_LIST, Sample, parse_eval_list, select_range
from common.results import BatchReport, run_samples, write_json_atomic, write_npy_atomic
from models import DEFAULT_MODEL, list_models, load_model
from models.registry import check_model_name
from submodular_attribution import family_options
from submodular_attribution.explainer import Explanation, SubmodularExplainer
from submodular_attribution.masking import FILLS
from submodular_attribution.objective import EFFECTIVENESS_FEATURES, Lambdas
from submodular_attribution.region_inputs import sample_region_inputs
from submodular_attribution.regions import DIVISIONS
from submodular_attribution.selection import SELECTORS

DEFAULT_REGION_SIZE = 30
DEFAULT_GRID_SIZE = 7


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

    objective = parser.add_argument_group("objective (F = λ1·confidence + λ2·effectiveness + λ3·consistency + λ4·collaboration)")
    for index, (term, default) in enumerate(zip(("confidence", "effectiveness", "consistency", "collaboration"), preset.lambdas), 1):
        objective.add_argument(f"--lambda{index}", type=float, default=default, help=f"weight of the {term} term")
    objective.add_argument("--selector", default=preset.selector, choices=sorted(SELECTORS), help="subset selection algorithm")
    objective.add_argument("--fill", default="black", choices=FILLS, help="what removed pixels become (the original: black)")
    objective.add_argument("--effectiveness-features", default=preset.effectiveness_features, choices=EFFECTIVENESS_FEATURES,
                           help="features of the single-region images the effectiveness distances use: the pooled "
                                "penultimate activations or the logits (the model's output vector, as the original)")
    search = parser.add_argument_group("selector options (each selector reads the ones it uses)")
    search.add_argument("--pending-samples", type=int, default=preset.pending_samples,
                        help="bidirectional: candidates the backward half evaluates per step (LiMA: 8, classifiers 12)")
    search.add_argument("--lazy-batch", type=int, default=4, help="lazy: regions re-scored per batch")
    search.add_argument("--forward-budget", type=int, default=0,
                        help="lazy, window, stochastic: forwards per image for setup + search (0 = no budget; lazy is then exact)")
    search.add_argument("--window", type=int, default=8, help="window: most regions of the single-region order re-scored per step")
    search.add_argument("--prior", default="score", choices=["score", "log"],
                        help="window: order regions by F of the single region (score) or by log p(kept) - log p(removed) (log)")
    search.add_argument("--head-steps", type=int, default=0, help="tail: full greedy batches before the tail is ordered")
    search.add_argument("--sample-size", type=int, default=2, help="stochastic: regions scored per step")
    search.add_argument("--seed", type=int, default=0, help="seed of the stochastic selectors (same seed, same ranking)")

    model = parser.add_argument_group("model")
    model.add_argument("--model", default=preset.model,
                       help=f"black box: {', '.join(list_models())}; clip:<open_clip architecture> (zero-shot); "
                            "embed:<model> (reference embedding)")
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
    parser.add_argument("--config", default=None,
                        help="YAML file of flag defaults (keys are flag names, e.g. lambda2: 0.05); command-line flags win")
    family_options.add_family_arguments(parser)
    parser.set_defaults(**preset.extra_defaults)
    return parser


SELECTOR_FLAGS = ("pending_samples", "lazy_batch", "forward_budget", "window", "prior", "head_steps", "sample_size", "seed")


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
    """Check values argparse does not check when they come from ``--config``: choices and positive sizes."""
    for action in parser._actions:
        value = getattr(args, action.dest, None)
        if action.choices is not None and value is not None and value not in action.choices:
            flag = action.option_strings[-1] if action.option_strings else action.dest
            raise ToolkitError(f"{flag} {value}: choose one of {', '.join(map(str, action.choices))}")
    for flag in ("region_size", "grid_size", "batch_size", "pending_samples", "lazy_batch", "sample_size", "window"):
        if getattr(args, flag) < 1:
            raise ToolkitError(f"--{flag.replace('_', '-')} {getattr(args, flag)}: must be >= 1")
    check_model_name(args.model)
    family_options.validate_family_args(args)


def run(args: argparse.Namespace) -> tuple[Path, BatchReport]:
    """Explain every selected sample of the eval list; returns the run folder and what happened."""
    samples = select_range(parse_eval_list(args.eval_list, args.Datasets), args.begin, args.end)
    run_dir = Path(args.save_dir.format(model=args.model)) / run_folder_name(args)
    todo = [s for s in samples if not result_paths(run_dir, s, s.label)[0].exists()]
    print(f"{len(samples)} samples, {len(samples) - len(todo)} already done -> {run_dir}")
    if not todo:
        return run_dir, BatchReport(skipped=len(samples))
    blackbox = load_model(args.model, weights=args.weights, device=args.device, batch_size=args.batch_size,
                          **family_options.model_options(args))
    for note in blackbox.enable_fast_paths(args.amp, args.compile):
        print(note)
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
    settings = {k: v for k, v in vars(args).items() if k not in ("begin", "end", "no_progress", "config")}
    write_json_atomic(run_dir / "config.json", settings)

    def process(sample: Sample) -> None:
        json_path, npy_path = result_paths(run_dir, sample, sample.label)
        region_inputs = sample_region_inputs(args.superpixel_algorithm, family_options.region_folders(args),
                                             class_folder(sample.label), sample.stem)
        uncertainty = getattr(explainer.confidence_term, "uncertainty", None)
        uncertainty_before = uncertainty.forward_count if uncertainty is not None else 0
        explanation = explainer.explain(sample.load(), sample.label, region_inputs=region_inputs)
        explanation.extra["division_params"] = explainer.division_params
        if uncertainty is not None:
            explanation.extra["uncertainty_forward_passes"] = uncertainty.forward_count - uncertainty_before
        if args.record_counterfactual:
            family_options.record_counterfactual(explainer, explanation, blackbox.class_names)
        save_explanation(explanation, json_path, npy_path, sample.ref, blackbox.class_names, args.save_region_images)

    report = run_samples(
        samples,
        run_dir=run_dir,
        is_done=lambda s: result_paths(run_dir, s, s.label)[0].exists(),
        process=process,
        desc=Path(run_dir).name,
        progress=not args.no_progress,
    )
    print(f"{report.summary()}; results in {run_dir}" + (f"; failures logged to {run_dir / 'errors.jsonl'}" if report.failed else ""))
    return run_dir, report


def main(preset: Preset, argv: list[str] | None = None) -> tuple[Path, BatchReport]:
    """Parse ``argv`` with the preset's defaults and run; user errors exit with one line and status 2."""
    parser = build_parser(preset)
    exit_on_toolkit_error(apply_config)(parser, argv)
    args = parser.parse_args(argv)
    exit_on_toolkit_error(validate_args)(parser, args)
    return exit_on_toolkit_error(run)(args)


def cli_entry(preset: Preset) -> None:
    """``if __name__ == "__main__"`` body of an entry module: exit status 1 when any sample failed."""
    _, report = main(preset)
    raise SystemExit(1 if report.failed else 0)

