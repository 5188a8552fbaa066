"""Baseline saliency maps for every image of an eval list (the original's ``generate_explanation_maps``).

    python -m baseline_attribution.generate_explanation_maps --method hsic --model efficientnet_lite0 --eval-list demo

writes ``<save-dir>/<run>/<Method>/<class>/<stem>.npy``: one ``S x S`` float32 map per image at the model's input
size (higher = more important), ``<run>`` = ``--run`` (default: the model name), ``<Method>`` = the method's folder
name (``HsicAttributionMethod``, ``GradCAM``, ...; with ``-param=value`` suffixes for non-default parameters),
``<class>`` = the eval list's label, or ``top1`` for unlabelled lines (the model's top-1 class is explained).
``<Method>`` is what SMDL's ``--superpixel-algorithm prior --prior-dir`` reads.

* Run identity (:mod:`common.run_identity`): ``<Method>/config.json`` records, once (exclusive create, never
  rewritten), the settings that change the maps (method and parameters, model, sha256 of ``--weights``, dataset
  root, ``--seed`` for stochastic methods, map format version); a run with other settings into the folder stops
  with one line naming each differing setting. Every map gets a sidecar ``<class>/<stem>.json`` (``identity_key``,
  target, forwards, seconds) written after the npy. Resume skips an image only when its sidecar carries the run's
  key: a map without one (interrupted, copied in by hand, made by the code before run identity) or of another key
  is recomputed. Why a sidecar and not only the folder record: the npy format has no room for metadata (and SMDL's
  ``--prior-dir`` reads the bare npy), while the folder record alone would trust any npy found in the folder,
  e.g. maps left by a run whose ``config.json`` was deleted, or copied from another run.
* A failing image is logged to ``<Method>/errors.jsonl`` and the run goes on.
* Randomness: stochastic methods get ``torch.Generator().manual_seed(--seed)`` for every image (so a map does not
  depend on ``--begin/--end`` or on the other images; like the original RISE code, every image sees the same masks).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common.claims import ClaimBoard
from common.cli_style import LazyChoices, normalise_flags
from common.errors import ToolkitError, exit_on_toolkit_error
from common.eval_list import DEMO_LIST, Sample, parse_eval_list, select_range
from common.names import BASELINE_METHODS, MODELS
from common.results import BatchReport, run_samples, write_json_atomic, write_npy_atomic
from common.run_identity import IDENTITY_FIELD, RunIdentity, bind_run_folder, file_sha256, result_matches
from common.sharding import add_scale_arguments, resolve_shard
from common.status import format_status, run_status
from common.validation import check_writable_dir
from models import DEFAULT_MODEL

if TYPE_CHECKING:
    from .base import BaselineMethod

DEFAULT_SEED = 0
MAP_VERSION = 1  # bump when what a map means changes (it is part of the run identity)


# ``{parameter: [(method, its default), ...]}`` of the registered methods, kept here so that ``--help`` builds the
# parameter flags without importing the methods (torch); test_baselines checks it equals method_parameters().
PARAMETERS: dict[str, list[tuple[str, Any]]] = {
    "layer": [("gradcam", None), ("gradcampp", None), ("scorecam", None)],
    "normalize": [("gradcam", True), ("gradcampp", True), ("scorecam", True), ("rise", "expectation")],
    "score": [("scorecam", "probability")],
    "channel_softmax": [("scorecam", False)],
    "n_samples": [("lime", 1000), ("kernelshap", 1000)],
    "kernel_width": [("lime", 0.25)],
    "alpha": [("lime", 1.0)],
    "fill": [("lime", "mean"), ("kernelshap", "grey"), ("occlusion", 0.0)],
    "kernel_size": [("lime", 4.0), ("kernelshap", 4.0)],
    "max_dist": [("lime", 200.0), ("kernelshap", 200.0)],
    "ratio": [("lime", 0.2), ("kernelshap", 0.2)],
    "n_masks": [("rise", 4000)],
    "grid_size": [("rise", 7), ("hsic", 8), ("sobol", 8)],
    "p_keep": [("rise", 0.5)],
    "n_designs": [("hsic", 500), ("sobol", 32)],
    "patch_size": [("occlusion", 10)],
    "stride": [("occlusion", 5)],
    "n_steps": [("ig", 80)],
    "baseline_value": [("ig", 0.0)],
}


def _method_names() -> list[str]:
    from . import list_methods

    return list_methods()


def _model_names() -> list[str]:
    from models import list_models

    return list_models()


def load_model(name: str, **options: Any):
    """:func:`models.load_model`, imported on first use (tests replace this module attribute with a toy)."""
    from models import load_model as load

    return load(name, **options)


def _flag(param: str) -> str:
    return "--" + param.replace("_", "-")


def method_parameters() -> dict[str, list[tuple[str, Any]]]:
    """Every parameter of the registered methods: ``name -> [(method, its default), ...]``."""
    from . import METHODS, list_methods

    table: dict[str, list[tuple[str, Any]]] = {}
    for name in list_methods():
        for param, default in METHODS[name].default_params.items():
            table.setdefault(param, []).append((name, default))
    return table


def _parse_bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes"):
        return True
    if text.lower() in ("0", "false", "no"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r} is not true/false")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m baseline_attribution.generate_explanation_maps",
                                     description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--method", required=True, type=LazyChoices(_method_names, BASELINE_METHODS, "baseline_attribution.registry"), metavar="METHOD", help="baseline attribution method")
    data = parser.add_argument_group("data")
    data.add_argument("--Datasets", default=".", help="folder the eval-list paths are relative to")
    data.add_argument("--eval-list", default="demo",
                      help="text file of 'relative/path class_id' lines, or 'demo' for the built-in real photos")
    data.add_argument("--begin", type=int, default=0, help="first line (0-based) of the eval list to process")
    data.add_argument("--end", type=int, default=-1, help="one past the last line; -1 = through the last line")
    model = parser.add_argument_group("model")
    model.add_argument("--model", default=DEFAULT_MODEL, type=LazyChoices(_model_names, MODELS, "models.registry"), metavar="MODEL", help="black-box classifier")
    model.add_argument("--weights", default=None, help="local weights file (torchvision models; no downloads here)")
    model.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, or auto")
    model.add_argument("--batch-size", type=int, default=32,
                       help="images per model forward (perturbed images of one photo are chunked by it)")
    model.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the stochastic methods' generator")
    output = parser.add_argument_group("output")
    output.add_argument("--save-dir", default="explanation_results", help="results root")
    output.add_argument("--run", default="", help="run folder under --save-dir; empty = the model name")
    output.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    params = parser.add_argument_group("method parameters (default: the chosen method's own, listed per method)")
    for param, users in PARAMETERS.items():
        shown = ", ".join(f"{name}={default}" for name, default in users)
        params.add_argument(_flag(param), dest=f"param_{param}", default=argparse.SUPPRESS, metavar="VALUE",
                            help=f"used by {shown}")
    add_scale_arguments(parser)
    return parser


def _convert(param: str, text: str, default: Any) -> Any:
    """``text`` as the type of the method's default (bool: true/false; None default: a string)."""
    try:
        if isinstance(default, bool):
            return _parse_bool(text)
        return type(default)(text) if default is not None else text
    except (ValueError, argparse.ArgumentTypeError):
        raise ToolkitError(f"{_flag(param)} {text}: expected a {type(default).__name__} like {default!r}") from None


def chosen_params(args: argparse.Namespace) -> dict[str, Any]:
    """The method parameters given on the command line, converted to the types of the method's defaults.

    Raises:
        ToolkitError: a parameter the chosen method does not have, or a value of the wrong type.
    """
    from . import METHODS

    given = {k.removeprefix("param_"): v for k, v in vars(args).items() if k.startswith("param_")}
    valid = METHODS[args.method].default_params
    for param in given:
        if param not in valid:
            raise ToolkitError(f"{_flag(param)}: not a parameter of --method {args.method} "
                               f"(its parameters: {', '.join(_flag(p) for p in valid) or 'none'})")
    return {param: _convert(param, text, valid[param]) for param, text in given.items()}


def method_folder(method: BaselineMethod) -> str:
    """``display_name`` plus ``-param=value`` for every parameter that differs from the default."""
    changed = [f"{k}={v}" for k, v in vars(method).items() if type(method).default_params.get(k) != v]
    return "-".join([type(method).display_name, *changed])


def map_path(method_dir: Path, sample: Sample) -> Path:
    """``<method_dir>/<class>/<stem>.npy`` (class = the label, or ``top1``)."""
    folder = str(sample.label) if sample.label is not None else "top1"
    return method_dir / folder / f"{sample.stem}.npy"


def sidecar_path(method_dir: Path, sample: Sample) -> Path:
    """``<method_dir>/<class>/<stem>.json``: the map's identity key and log line, written after the npy."""
    return map_path(method_dir, sample).with_suffix(".json")


def run_identity(args: argparse.Namespace, method: BaselineMethod) -> RunIdentity:
    """The settings that change the maps (batch size and device do not: methods are batch-size invariant)."""
    return RunIdentity.from_settings({
        "method": args.method,
        "params": vars(method),
        "model": args.model,
        "weights_sha256": file_sha256(args.weights),
        "dataset_root": None if args.eval_list == DEMO_LIST else str(Path(args.Datasets).absolute()),
        "seed": args.seed if method.stochastic else None,
        "map_version": MAP_VERSION,
    })


def run(args: argparse.Namespace) -> tuple[Path, BatchReport]:
    """Write the maps of every selected sample; returns the method folder and what happened."""
    import numpy as np
    import torch

    from models import resolve_device

    from . import get_method

    if args.batch_size < 1:
        raise ToolkitError(f"--batch-size {args.batch_size}: must be >= 1")
    method = get_method(args.method, **chosen_params(args))
    samples = resolve_shard(args.shard).select(select_range(parse_eval_list(args.eval_list, args.Datasets),
                                                            args.begin, args.end))
    resolve_device(args.device)
    method_dir = Path(args.save_dir) / (args.run or args.model) / method_folder(method)
    identity = run_identity(args, method)

    def is_done(sample: Sample) -> bool:
        return map_path(method_dir, sample).exists() and result_matches(sidecar_path(method_dir, sample), identity.key)

    if args.status:
        print(format_status(run_status(method_dir, samples, is_done, stale_seconds=args.stale_seconds)))
        return method_dir, BatchReport()
    check_writable_dir("--save-dir", method_dir)
    bind_run_folder(method_dir, identity, extra={k: v for k, v in vars(args).items() if k != "status"})
    todo = [s for s in samples if not is_done(s)]
    print(f"{len(samples)} samples, {len(samples) - len(todo)} already done -> {method_dir}")
    if not todo:
        return method_dir, BatchReport(skipped=len(samples))
    blackbox = load_model(args.model, weights=args.weights, device=args.device, batch_size=args.batch_size)

    def process(sample: Sample) -> None:
        started, forwards = time.perf_counter(), blackbox.forward_count
        image = blackbox.to_tensor(blackbox.resize(sample.load()))
        blackbox.begin_sample(image[0])  # embedding black boxes take their reference here; no-op for classifiers
        target = blackbox.explained_target(sample.label)
        if target is None:
            target = int(blackbox.predict(image).argmax())
        if target >= blackbox.num_classes:
            raise ToolkitError(f"label {target} of {sample.name} is not a class of {args.model} "
                               f"({blackbox.num_classes} classes)")
        generator = torch.Generator().manual_seed(args.seed) if method.stochastic else None
        saliency = method.attribute(blackbox, image, torch.tensor([target]), generator=generator)[0]
        write_npy_atomic(map_path(method_dir, sample), saliency.numpy().astype(np.float32))
        record = {"sample": sample.name, "target": target, "forwards": blackbox.forward_count - forwards,
                  "seconds": round(time.perf_counter() - started, 3)}
        write_json_atomic(sidecar_path(method_dir, sample), {**record, IDENTITY_FIELD: identity.key})  # last: complete
        with open(method_dir / "log.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    with ClaimBoard(method_dir, args.heartbeat_seconds, args.stale_seconds) as claims:
        report = run_samples(samples, run_dir=method_dir, is_done=is_done,
                             process=process, desc=method_folder(method)[:30], progress=not args.no_progress,
                             claims=claims)
    print(f"{report.summary()}; maps in {method_dir}"
          + (f"; failures logged to {method_dir / 'errors.jsonl'}" if report.failed else ""))
    return method_dir, report


def main(argv: list[str] | None = None) -> tuple[Path, BatchReport]:
    """Parse ``argv`` and run; user errors exit with one line and status 2."""
    return exit_on_toolkit_error(run)(normalise_flags(build_parser()).parse_args(argv))


if __name__ == "__main__":
    _, _report = main()
    raise SystemExit(1 if _report.failed else 0)
