"""The baseline map run behind ``python -m baseline_attribution.generate_explanation_maps`` (whose docstring
documents it: folders, run identity, sidecars, resume, randomness), as a library: its flags (:func:`build_parser`),
their validation before torch loads (:func:`chosen_params`), the folder layout (:func:`method_folder`,
:func:`map_path`) and the run itself (:func:`run`, :func:`main`), which ``scripts.benchmark_baselines`` calls too.
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
from common.method_contract import DEFAULT_SEED, MethodError, check_finite_map, flag_of
from common.progress import log_line
from common.results import BatchReport, run_samples, write_json_atomic, write_npy_atomic
from common.run_identity import IDENTITY_FIELD, RunIdentity, bind_run_folder, file_sha256, result_matches
from common.sharding import add_scale_arguments, resolve_shard
from common.status import format_status, run_status
from common.validation import check_writable_dir
from models import DEFAULT_MODEL

from .specs import SPECS

if TYPE_CHECKING:
    from models.base import BlackBox

    from .base import BaselineMethod

ENTRY_MODULE = "baseline_attribution.generate_explanation_maps"
"""The entry module that runs :func:`main` (its docstring is the user's documentation of the run)."""
DESCRIPTION = "Baseline saliency maps for every image of an eval list (the original's ``generate_explanation_maps``)."

MAP_VERSION = 1  # bump when what a map means changes (it is part of the run identity)


def method_parameters() -> dict[str, list[tuple[str, Any]]]:
    """Every parameter of the baseline methods, from the torch-free specs: ``name -> [(method, its default), ...]``
    (one ``--flag`` each; a flag shared by several methods takes the type and range of the chosen one)."""
    table: dict[str, list[tuple[str, Any]]] = {}
    for name, spec in SPECS.items():
        for param in spec.params:
            table.setdefault(param.name, []).append((name, param.default))
    return table


def _model_names() -> list[str]:
    from models import list_models

    return list_models()


def load_model(name: str, **options: Any) -> BlackBox:
    """:func:`models.load_model`, imported on first use (tests replace it with a toy)."""
    from models import load_model as load

    return load(name, **options)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"python -m {ENTRY_MODULE}", description=DESCRIPTION,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--method", required=True, choices=list(SPECS), metavar="METHOD",
                        help=f"baseline attribution method: {', '.join(SPECS)}")
    data = parser.add_argument_group("data")
    data.add_argument("--Datasets", default=".", help="folder the eval-list paths are relative to")
    data.add_argument("--eval-list", default="demo",
                      help="text file of 'relative/path class_id' lines, or 'demo' for the built-in real photos")
    data.add_argument("--begin", type=int, default=0, help="first line (0-based) of the eval list to process")
    data.add_argument("--end", type=int, default=-1, help="one past the last line; -1 = through the last line")
    model = parser.add_argument_group("model")
    model.add_argument("--model", default=DEFAULT_MODEL, metavar="MODEL",
                       help="black-box classifier (a models registry name; checked after the method parameters, "
                            "which are validated before torch loads)")
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
    for param, users in method_parameters().items():
        shown = "; ".join(f"{name}={default} ({SPECS[name].param(param).allowed()})" for name, default in users)
        helps = list(dict.fromkeys(SPECS[name].param(param).help for name, _ in users))  # distinct meanings
        meaning = helps[0] + "".join(
            f"; {', '.join(n for n, _ in users if SPECS[n].param(param).help == h)}: {h}" for h in helps[1:])
        params.add_argument(flag_of(param), dest=f"param_{param}", default=argparse.SUPPRESS, metavar="VALUE",
                            help=f"{meaning}. Used by {shown}".replace("%", "%%"))
    add_scale_arguments(parser)
    return parser


def chosen_params(args: argparse.Namespace) -> dict[str, Any]:
    """The method parameters given on the command line, parsed and validated by the chosen method's spec
    (:mod:`baseline_attribution.specs`; no torch import).

    Raises:
        MethodError: a parameter the chosen method does not have, or a value of the wrong type or out of range
            (``--p-keep 2.0: rise needs a finite number in (0, 1]``).
    """
    given = {k.removeprefix("param_"): v for k, v in vars(args).items() if k.startswith("param_")}
    spec = SPECS[args.method]
    unknown = [p for p in given if p not in spec.defaults()]
    if unknown:
        raise MethodError(f"{', '.join(flag_of(p) for p in unknown)}: not a parameter of --method {args.method} "
                          f"(its parameters: {', '.join(p.flag for p in spec.params) or 'none'})")
    return spec.parse(given)


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
    """Write the maps of every selected sample (the model from this module's :func:`load_model`, looked up at call
    time so tests can replace it); returns the method folder and what happened."""
    if args.batch_size < 1:
        raise ToolkitError(f"--batch-size {args.batch_size}: must be >= 1")
    params = chosen_params(args)  # validated before torch is imported and before the model loads
    all_samples = parse_eval_list(args.eval_list, args.Datasets)
    if not all_samples:
        raise ToolkitError(f"--eval-list {args.eval_list}: no samples in the list; nothing to explain")
    samples = select_range(all_samples, args.begin, args.end)
    if not samples:
        log_line(f"warning: --begin {args.begin} --end {args.end} selects no line of the "
                 f"{len(all_samples)}-line eval list")
    samples = resolve_shard(args.shard).select(samples)

    import numpy as np
    import torch

    from models import resolve_device

    from . import get_method

    if args.model not in LazyChoices(_model_names):
        raise ToolkitError(f"--model {args.model}: unknown; choose one of {', '.join(_model_names())}")
    method = get_method(args.method, **params)
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
        check_finite_map(saliency.numpy(), f"{args.method} map of {sample.name}")  # logged as failed, not written
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
    """Parse ``argv`` and :func:`run`; user errors exit with one line and status 2."""
    return exit_on_toolkit_error(run)(normalise_flags(build_parser()).parse_args(argv))
