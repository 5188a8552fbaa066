"""Checks of the SMDL driver's flags before the model loads (no torch import), the objective's checks that
``evals.report --param smdl.*`` shares, and the cost line printed before a run."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from common.errors import ToolkitError
from common.validation import check_range, check_weights, check_writable_dir
from submodular_attribution.division import Division
from submodular_attribution.driver_flags import DEFAULT_MAX_REGIONS, declared_flags
from submodular_attribution.regions import DIVISIONS
from submodular_attribution.selection import SELECTORS, selector_class

# Side of the model input assumed before the model loads (the registry classifiers' 224); the division is checked
# again at the loaded model's own size.
ASSUMED_INPUT_SIZE = 224
FLOAT32_MAX = 3.4028234663852886e38
TIE_TOLERANCE = 1e-6  # greedy's ties (selection/greedy.py): F differences below it cannot order regions
COSTLY_FORWARDS = 10_000


def validate_objective(lambdas: tuple[float, float, float, float], allow_negative: bool = False,
                       max_regions: int = DEFAULT_MAX_REGIONS) -> None:
    """λ1..λ4 finite (non-negative unless ``allow_negative``), not all zero, and F neither overflows float32
    (Σ |λ_i|·max term_i, with effectiveness up to ``max_regions``) nor is constant at greedy's tie tolerance.

    Raises:
        ToolkitError: one line naming the flags.
    """
    flags = {f"--lambda{i}": float(v) for i, v in enumerate(lambdas, 1)}
    check_weights(flags, allow_negative)
    if all(v == 0 for v in flags.values()):
        raise ToolkitError("--lambda1..4 are all 0: F is 0 for every subset and the ranking is the region-id order; "
                           "give at least one term a weight (the default is 0 0.05 1 1)")
    bounds = (1.0, float(max_regions), 1.0, 1.0)  # confidence, consistency, collaboration in [0, 1]; effectiveness <= m
    scale = sum(abs(v) * b for v, b in zip(flags.values(), bounds))  # inf when it overflows float64 too
    if not scale < FLOAT32_MAX / 2:
        big = max(flags, key=lambda f: abs(flags[f]))
        raise ToolkitError(f"{big} {flags[big]}: F = Σ λ·term can reach {scale:.3g}, beyond float32 ({FLOAT32_MAX:.3g}); every "
                           "score would be inf and the ranking the region-id order; use weights below 1e30")
    if scale < TIE_TOLERANCE:
        raise ToolkitError(f"--lambda1..4 {' '.join(f'{v:g}' for v in flags.values())}: F varies by less than {TIE_TOLERANCE:g} "
                           "between subsets, below greedy's tie tolerance: the ranking would be the region-id order")


def split_smdl_options(params: Mapping[str, Any]) -> tuple[str, str, Any, dict[str, Any], dict[str, Any]]:
    """``(division, selector, lambdas or None, selector_options, division options)`` of the ``smdl.*`` parameters:
    ``division`` (default slico), ``selector`` (default greedy), ``lambdas``, ``selector_options``; every other key
    is an option of the division."""
    options = dict(params)
    return (str(options.pop("division", "slico")), str(options.pop("selector", "greedy")), options.pop("lambdas", None),
            dict(options.pop("selector_options", None) or {}), options)


def validate_smdl_params(params: dict[str, Any], input_size: int = ASSUMED_INPUT_SIZE,
                         max_regions: int = DEFAULT_MAX_REGIONS) -> None:
    """The ``smdl.*`` parameters of ``evals.report --param`` as ``compute_map`` reads them (``division``,
    ``selector``, ``lambdas`` [4 floats], ``selector_options`` {name: value}, every other key a division option),
    checked as the driver checks its flags: declared names only, ranges, region count, the objective."""
    division_name, selector, lambdas, selector_options, division_options = split_smdl_options(params)
    Division.from_values(division_name, **division_options).check(input_size, max_regions)
    selector_class(selector)(**selector_options)
    if lambdas is not None:
        validate_objective(tuple(lambdas), max_regions=max_regions)


def selector_values(args: argparse.Namespace) -> dict[str, Any]:
    """The chosen selector's option values from the flags (None = its declared default), checked."""
    from submodular_attribution.selection.options import resolve

    cls = selector_class(args.selector)
    given = {o.name: getattr(args, o.dest) for o in cls.options if getattr(args, o.dest, None) is not None}
    return resolve(f"--selector {args.selector}", cls.options, given)


def validate_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Every flag before the model loads (and before torch is imported): choices (also from ``--config``),
    every declared division and selector option's range, the objective, the chosen division's region count at the
    assumed input size, the shard, a writable ``--save-dir``, then the model name."""
    from common.sharding import resolve_shard
    from submodular_attribution import family_options
    from submodular_attribution.driver import run_root

    for action in parser._actions:
        value = getattr(args, action.dest, None)
        if action.choices is not None and value is not None and value not in action.choices:
            flag = action.option_strings[-1] if action.option_strings else action.dest
            raise ToolkitError(f"{flag} {value}: choose one of {', '.join(map(str, action.choices))}")
    for flag, value, low, high in (("--batch-size", args.batch_size, 1, None), ("--max-regions", args.max_regions, 2, None),
                                   ("--begin", args.begin, 0, None), ("--end", args.end, -1, None),
                                   ("--min-target-prob", args.min_target_prob, 0.0, 1.0), ("--prefetch", args.prefetch, 0, 64),
                                   ("--heartbeat-seconds", args.heartbeat_seconds, 0.01, None)):
        check_range(flag, value, low, high)
    check_range("--stale-seconds", args.stale_seconds, 2 * args.heartbeat_seconds, hint="keep it at least twice --heartbeat-seconds")
    owners = {**{n: s.options for n, s in DIVISIONS.items()}, **{n: c.options for n, c in SELECTORS.items()}}
    for uses in declared_flags(owners).values():
        value = getattr(args, uses[0][1].dest, None)
        if value is not None:
            uses[0][1].check(value)
    validate_objective((args.lambda1, args.lambda2, args.lambda3, args.lambda4), args.allow_negative, args.max_regions)
    Division.from_args(args).check(ASSUMED_INPUT_SIZE, args.max_regions)
    selector_values(args)
    family_options.validate_family_args(args)
    resolve_shard(args.shard)
    if not args.status:
        check_writable_dir("--save-dir", run_root(args))
    from models.registry import check_model_name  # imports torch: last

    check_model_name(args.model)


def cost_line(division: Division, selector: str, values: dict[str, Any], lambda2: float, input_size: int) -> tuple[str, bool]:
    """One line with the expected regions and forwards per image, and whether the cost is large."""
    regions = division.expected_regions(input_size)
    if regions is None:
        return f"regions: {division.name} (count depends on the image); selector {selector}", False
    forwards = selector_class(selector).expected_forwards(regions, values, regions if lambda2 != 0 else 0)
    line = (f"regions: ~{regions} per image ({division.folder_name()} at {input_size}x{input_size}); "
            f"selector {selector}: ~{forwards:,} forwards per image")
    if forwards > COSTLY_FORWARDS:
        line += (f" (warning: large; ~{forwards / 100 / 60:.0f} min per image at 100 forwards/s on a CPU; a larger "
                 "region size, --selector bidirectional or a --forward-budget selector costs less)")
    return line, forwards > COSTLY_FORWARDS
