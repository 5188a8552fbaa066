"""The SMDL driver's flags: fixed groups (data, objective, model, output) plus one flag per declared option of
every division and selector (:class:`~submodular_attribution.selection.options.Option`), and ``--config``.

A flag several selectors share (``--forward-budget``) defaults to None, "the chosen selector's default", and its
help lists each selector's default; every default is printed once. Nothing here imports torch.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from common.errors import ToolkitError
from common.sharding import add_scale_arguments
from submodular_attribution import family_options
from submodular_attribution.masking import FILLS
from submodular_attribution.presets import Preset, get_preset
from submodular_attribution.regions import DIVISIONS
from submodular_attribution.selection import SELECTORS
from submodular_attribution.selection.options import Option
from submodular_attribution.terms import EFFECTIVENESS_FEATURES

DEFAULT_MAX_REGIONS = 1024


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``(default: X)`` once: not for None / False defaults nor when the help already names its default."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or action.default is False or "default" in (action.help or ""):
            return action.help or ""
        return super()._get_help_string(action)


def declared_flags(owners: dict[str, tuple[Option, ...]]) -> dict[str, list[tuple[str, Option]]]:
    """flag -> [(owner name, its declaration)], in first-declared order; a flag declared with two types is a bug."""
    flags: dict[str, list[tuple[str, Option]]] = {}
    for owner, options in owners.items():
        for option in options:
            flags.setdefault(option.flag_name, []).append((owner, option))
    for flag, uses in flags.items():
        kinds = {(o.type, o.choices) for _, o in uses}
        if len(kinds) > 1:
            raise TypeError(f"{flag} is declared with different types or choices by {', '.join(n for n, _ in uses)}")
    return flags


def _add_declared(group: argparse._ArgumentGroup, flag: str, uses: list[tuple[str, Option]], owner_kind: str) -> None:
    option = uses[0][1]
    defaults: dict[Any, list[str]] = {}
    for owner, declared in uses:
        defaults.setdefault(declared.default, []).append(owner)
    users = ", ".join(sorted(owner for owner, _ in uses))
    if len(defaults) == 1:
        default, note = option.default, ""
    else:
        default = None
        note = "; default: " + "; ".join(f"{value} for {', '.join(sorted(owners))}" for value, owners in sorted(defaults.items()))
    if option.low is not None or option.high is not None:
        note += f"; range {option.low if option.low is not None else '-inf'}..{option.high if option.high is not None else 'inf'}"
    group.add_argument(flag, type=option.type, default=default, choices=option.choices, metavar=None if option.choices else option.type.__name__.upper(),
                       help=f"{owner_kind} {users}: {option.help}{note}")


def build_parser(preset: str | Preset) -> argparse.ArgumentParser:
    """Every flag of the driver with the defaults of ``preset`` (a :class:`~.presets.Preset` or its name)."""
    preset = get_preset(preset)
    parser = argparse.ArgumentParser(prog=f"python -m {preset.prog}", description=preset.description, formatter_class=HelpFormatter)
    data = parser.add_argument_group("data")
    data.add_argument("--Datasets", default=preset.datasets, help="folder the eval-list paths are relative to")
    data.add_argument("--eval-list", default=preset.eval_list,
                      help="text file of 'relative/path class_id' lines, or 'demo' for the built-in real photos")
    data.add_argument("--begin", type=int, default=0, help="first line (0-based) of the eval list to process")
    data.add_argument("--end", type=int, default=-1, help="one past the last line; -1 = through the last line")

    regions = parser.add_argument_group("regions (each division reads its own options)")
    regions.add_argument("--superpixel-algorithm", default=preset.division, choices=sorted(DIVISIONS),
                         help="how the image is divided into sub-regions")
    regions.add_argument("--max-regions", type=int, default=DEFAULT_MAX_REGIONS,
                         help="refuse divisions expected to give more regions (greedy costs ~m^2 forwards)")
    for flag, uses in declared_flags({name: spec.options for name, spec in DIVISIONS.items()}).items():
        _add_declared(regions, flag, uses, "division")

    objective = parser.add_argument_group("objective (F = λ1·confidence + λ2·effectiveness + λ3·consistency + λ4·collaboration)")
    for index, (term, default) in enumerate(zip(("confidence", "effectiveness", "consistency", "collaboration"), preset.lambdas), 1):
        objective.add_argument(f"--lambda{index}", type=float, default=default, help=f"weight of the {term} term")
    objective.add_argument("--selector", default=preset.selector, choices=sorted(SELECTORS),
                           help="subset selection algorithm (greedy: the original)")
    objective.add_argument("--fill", default="black", choices=FILLS, help="what removed pixels become (black: the original)")
    objective.add_argument("--allow-negative", action="store_true", help="accept negative lambdas (otherwise refused)")
    objective.add_argument("--effectiveness-features", default=preset.effectiveness_features, choices=EFFECTIVENESS_FEATURES,
                           help="features of the single-region images the effectiveness distances use: the pooled "
                                "penultimate activations or the logits (the model's output vector, as the original)")
    search = parser.add_argument_group("selector options (each selector reads its own)")
    for flag, uses in declared_flags({name: cls.options for name, cls in SELECTORS.items()}).items():
        _add_declared(search, flag, uses, "selector")

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
    model.add_argument("--search-dtype", default="fp32", choices=["fp32", "bf16"],
                       help="precision of the selector's forwards: bf16 takes the search's decisions under bfloat16 "
                            "autocast (CUDA, or a CPU with avx512_bf16/amx_bf16; refused elsewhere), then re-scores "
                            "every saved curve point in fp32 (2m more forwards, json forward_passes_exact)")

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
    parser.set_defaults(region_size=preset.region_size, pending_samples=preset.pending_samples, **preset.extra_defaults)
    return parser


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
    dests = {action.dest for action in parser._actions} - {"config", "preset"}  # chosen on the command line only
    normalised = {str(key).lstrip("-").replace("-", "_"): value for key, value in values.items()}
    unknown = sorted(set(normalised) - dests)
    if unknown:
        raise ToolkitError(f"--config {path}: unknown keys {', '.join(unknown)}; use the flag names of --help")
    parser.set_defaults(**normalised)
