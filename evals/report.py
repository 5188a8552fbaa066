"""One comparison of SMDL, LA and every baseline on the same photos, model and protocol.

    python -m evals.report --eval-list demo --photos coffee chelsea --methods smdl la ig sm \\
        --param smdl.division=grid --param smdl.grid_size=5 --param la.max_iter=5 --out report

Every map is computed through its package's Python API (SMDL: ``SubmodularExplainer``; LA and the gradient
methods: ``local_attribution.get_method``; the baselines: ``baseline_attribution.get_method``) and cached in
``<out>/maps/<method>/<photo>.npy`` (+ ``.json``: target, seconds, forwards, settings), then scored by every
metric and cached in ``<out>/metrics/<method>/<photo>.json``. A rerun skips what exists (resume); a cached item
whose settings differ is recomputed. It writes:

* ``report.csv`` and ``report.md``: one row per method, mean over photos (the markdown header names the model,
  photos, protocol and method settings);
* ``comparison.png``: mean insertion and deletion curves of the first preset, one line per method;
* ``maps.png``: the maps of every method for each photo (perceptual colour map over the photo);
* ``insertion_<method>_<photo>.gif`` for the first method and photo with ``--animate``.

SMDL rankings become dense maps as the original's ``convert_smdl_mask`` (:meth:`Explanation.saliency_map`);
3-channel maps (LA and the gradient methods) are averaged over channels for the pixel presets and kept whole
for the ``la`` preset (LA ranks elements).
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import re
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from common.cli_style import LazyChoices, add_aliases, normalise_flags
from common.errors import ToolkitError, exit_on_toolkit_error
from common.eval_list import Sample, parse_eval_list
from common.names import REPORT_METHODS
from common.results import run_samples, write_json_atomic, write_npy_atomic
from common.validation import check_range
from evals.entry_flags import add_model_flags, check_model_flags, entry_parser, load_blackbox
from evals.metrics import MAP_METRICS, METRICS, check_budgets, highest_confidence_dense, mean_over_images
from evals.presets import MUFIDELITY_PRESETS, PRESETS, get_mufidelity_preset, get_preset

if TYPE_CHECKING:
    import torch

SMDL = "smdl"


def baseline_registry() -> dict[str, Any]:
    """``baseline_attribution.METHODS`` when that package is installed, else empty."""
    try:
        from baseline_attribution import METHODS
    except ImportError:
        return {}
    return dict(METHODS)


def local_registry() -> dict[str, Any]:
    from local_attribution import METHODS

    return dict(METHODS)


def available_methods() -> list[str]:
    """``smdl``, then LA and its gradient methods, then the baselines (names shared with LA: LA's wins)."""
    local = list(local_registry())
    return [SMDL] + local + [m for m in baseline_registry() if m not in local]


METHOD_NAMES = LazyChoices(available_methods, REPORT_METHODS, "local_attribution.registry")
"""``--methods`` values: checked against :data:`common.names.REPORT_METHODS` without importing torch (a method
registered at run time is accepted once the registries are loaded)."""


@functools.lru_cache(maxsize=1)
def _yaml_loader() -> type:
    """yaml's SafeLoader that also reads ``1e-3`` and ``1e308`` as floats (YAML 1.1 wants a dot: strings)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_implicit_resolver("tag:yaml.org,2002:float",
                                 re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$"),
                                 list("-+0123456789."))
    return Loader


def read_value(text: str) -> Any:
    """One ``--param`` value as YAML: ``5`` int, ``1e-3`` float, ``grid`` str, ``[0, 1]`` list, ``{k: 1}`` dict."""
    import yaml

    return yaml.load(text, Loader=_yaml_loader())  # noqa: S506 - a SafeLoader subclass


def parse_params(items: list[str], methods: list[str]) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, str]]]:
    """``["la.max_iter=5", "smdl.division=grid"]`` -> ``({"la": {"max_iter": 5}, "smdl": {"division": "grid"}}``,
    the same with the texts as given) (values read as YAML scalars, ``[a, b]`` lists, ``{k: v}`` mappings).

    Raises:
        ToolkitError: not ``METHOD.KEY=VALUE``, a method not in ``methods``, or a value that is not YAML.
    """
    params: dict[str, dict[str, Any]] = {m: {} for m in methods}
    texts: dict[str, dict[str, str]] = {m: {} for m in methods}
    for item in items:
        key, sep, value = item.partition("=")
        method, dot, name = key.partition(".")
        if not sep or not dot or not name:
            raise ToolkitError(f"--param {item!r}: expected METHOD.KEY=VALUE, e.g. la.max_iter=5")
        if method not in params:
            raise ToolkitError(f"--param {item!r}: {method!r} is not in --methods ({', '.join(methods)})")
        try:
            params[method][name] = read_value(value)
        except Exception as exc:  # noqa: BLE001 - yaml's errors have no common base worth naming
            raise ToolkitError(f"--param {item}: {value!r} is not a YAML value ({exc.__class__.__name__}); "
                               "write numbers, words, [a, b] or {k: v}") from None
        texts[method][name] = value
    return params, texts


def _report_spelling(message: str) -> str:
    """A driver/method error in the report's spelling: ``--grid-size`` -> ``grid_size``, ``--lambda1`` -> ``λ1``,
    ``--superpixel-algorithm`` -> ``division``."""

    def rename(match: re.Match) -> str:
        name = match.group(1)
        if name.startswith("lambda"):
            return "λ" + name[len("lambda"):]
        return "division" if name == "superpixel-algorithm" else name.replace("-", "_")

    return re.sub(r"--([a-z][\w-]*)", rename, message)


def param_error(method: str, texts: Mapping[str, str], message: str, key: str | None = None) -> ToolkitError:
    """``message`` (which names a CLI flag: ``--grid-size -1: must be >= 1``) as one line naming the ``--param``
    it is about: ``--param smdl.grid_size=-1: must be >= 1``. ``key`` = the parameter, when known; else found in
    the message (its flag, λ for ``lambdas``, a selector option for ``selector_options``, or its name)."""
    text = _report_spelling(message.removeprefix(f"{method}: "))
    if key is None:
        first = re.match(r"[\w.λ]+", text)
        refused = re.search(r"does not take (\w+)", text)  # a division or selector refusing an option
        word = refused.group(1) if refused else (first.group(0) if first else "")
        if word in texts:
            key = word
        elif word.startswith("λ") and "lambdas" in texts:
            key = "lambdas"
        elif word and re.search(rf"\b{re.escape(word)}\b", texts.get("selector_options", "")):
            key = "selector_options"
        elif first and first.group(0) in texts:
            key = first.group(0)
        else:
            key = next((k for k in texts if re.search(rf"\b{re.escape(k)}\b", text)), None)
    if key is None:
        return ToolkitError(f"--param {method}: {text}")
    text = re.sub(rf"^{re.escape(key)} [^:]*: ", "", text)  # the flag and value, said once in front
    return ToolkitError(f"--param {method}.{key}={texts[key]}: {text}")


def validate_method_params(params: Mapping[str, Mapping[str, Any]], texts: Mapping[str, Mapping[str, str]]) -> None:
    """Every ``--param`` checked as its family's CLI checks its flags, before torch and the model load: ``smdl.*``
    by :func:`submodular_attribution.driver_checks.validate_smdl_params` (division options and region count at
    224 px, selector and its options, the objective's λ), the others against their torch-free
    :class:`common.method_contract.MethodSpec` (names, types, ranges, cross-parameter rules).

    Raises:
        ToolkitError: one line naming ``--param METHOD.KEY=VALUE`` and what is allowed.
    """
    from common.attribution_maps import method_spec
    from common.method_contract import MethodError

    for method, values in params.items():
        given = texts[method]
        if method == SMDL:
            _check_smdl_shapes(values, given)
            from submodular_attribution.driver_checks import validate_smdl_params

            try:
                validate_smdl_params(dict(values))
            except ToolkitError as exc:
                raise param_error(method, given, str(exc)) from None
            continue
        try:
            spec = method_spec(method)
        except MethodError:
            continue  # registered at run time without a spec: its constructor validates
        known = [p.name for p in spec.params if p.kind != "object"]
        for key, value in values.items():
            if key not in known:
                raise ToolkitError(f"--param {method}.{key}: not a parameter of {method}; its parameters: "
                                   f"{', '.join(known) or 'none'}")
            try:
                spec.validate({key: value})
            except MethodError as exc:
                raise param_error(method, given, str(exc), key) from None
        try:
            spec.validate(dict(values))
        except MethodError as exc:
            raise param_error(method, given, str(exc)) from None


def _check_smdl_shapes(values: Mapping[str, Any], texts: Mapping[str, str]) -> None:
    """``smdl.lambdas`` is 4 numbers and ``smdl.selector_options`` a mapping (what the driver check assumes)."""
    lambdas = values.get("lambdas")
    if lambdas is not None and not (isinstance(lambdas, list) and len(lambdas) == 4 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in lambdas)):
        raise ToolkitError(f"--param smdl.lambdas={texts['lambdas']}: needs 4 numbers [λ1, λ2, λ3, λ4], e.g. "
                           "[0, 0.05, 1, 1]")
    options = values.get("selector_options")
    if options is not None and not isinstance(options, dict):
        raise ToolkitError(f"--param smdl.selector_options={texts['selector_options']}: needs a mapping "
                           "{name: value}, e.g. {lazy_batch: 4}")


def compute_map(method: str, params: dict[str, Any], blackbox: Any, image: np.ndarray, target: int,
                seed: int) -> tuple[np.ndarray, dict[str, Any]]:
    """One method's map of one image (:func:`common.attribution_maps.compute_attribution_map`, one call for every
    family): ``(S, S)`` (SMDL, baselines) or ``(3, S, S)`` (local_attribution), float32, and what it cost."""
    from common.attribution_maps import compute_attribution_map

    start, forwards = time.perf_counter(), blackbox.forward_count
    out = compute_attribution_map(method, blackbox, image, target, params, seed)
    cost = {"seconds": round(time.perf_counter() - start, 3), "forwards": blackbox.forward_count - forwards}
    return out, cost


def dense(map_: np.ndarray) -> np.ndarray:
    """``(S, S)`` from a ``(S, S)`` or ``(3, S, S)`` map (channel mean)."""
    return map_.mean(axis=0) if map_.ndim == 3 else map_


def scored_presets(presets: list[str], budgets: list[float]) -> list[str]:
    """The presets a map is scored under: ``presets``, plus ``smdl_baseline`` when budgets are asked for (the
    highest confidence is read on its insertion curve) and it is not among them."""
    return presets + (["smdl_baseline"] if budgets and "smdl_baseline" not in presets else [])


def score_map(blackbox: Any, image: torch.Tensor, map_: np.ndarray, label: int, presets: list[str],
              mufidelity_preset: str | None, seed: int, batch_size: int, budgets: list[float],
              map_metrics: Sequence[str] = ()) -> dict[str, Any]:
    """Every metric of one map (``image`` ``(1, 3, S, S)``, ``map_`` ``(S, S)`` or ``(3, S, S)``): AUCs and curves
    per preset, MuFidelity, highest confidence (on the ``smdl_baseline`` insertion curve, computed for it when not
    among ``presets``) and each of ``map_metrics`` (names of :data:`evals.metrics.MAP_METRICS`)."""
    import torch

    from evals.causal import insertion_deletion
    from evals.mufidelity import mufidelity

    flat = torch.from_numpy(dense(map_))[None]
    la_maps = torch.from_numpy(map_)[None] if map_.ndim == 3 else None
    out: dict[str, Any] = {"label": label}
    for name in scored_presets(presets, budgets):
        preset = get_preset(name)
        res = insertion_deletion(blackbox, image, flat, preset, targets=[label] if preset.target == "label" else None,
                                 batch_size=batch_size, la_maps=la_maps)
        out[name] = {"insertion": float(res.insertion_aucs[0]), "deletion": float(res.deletion_aucs[0]),
                     "x": res.x.tolist(), "insertion_curve": res.insertion_curves[0].tolist(),
                     "deletion_curve": res.deletion_curves[0].tolist(), "target": int(res.targets[0])}
        if name == "smdl_baseline":
            out["highest_confidence"] = {str(b): hc for b, hc in
                                         zip(budgets, highest_confidence_dense(res.insertion_curves[0], budgets))}
    if mufidelity_preset:
        res = mufidelity(blackbox, image, flat, [label], mufidelity_preset,
                         generator=torch.Generator().manual_seed(seed), batch_size=batch_size)
        out["mufidelity"] = float(res.scores[0])
    for name in map_metrics:
        out[name] = float(MAP_METRICS[name].load()(blackbox, image, dense(map_), label, seed=seed,
                                                   batch_size=batch_size))
    return out


def _cached(path: Path, settings: dict[str, Any]) -> bool:
    if not path.is_file():
        return False
    try:
        return json.loads(path.read_text()).get("settings") == settings
    except (json.JSONDecodeError, OSError):
        return False


def run_report(args: argparse.Namespace, blackbox: Any = None) -> dict[str, Any]:
    """Validate the flags, compute (or reuse) every map and metric, write the table and figures.

    ``blackbox`` replaces ``--model`` (tests pass a toy model)."""
    check_model_flags(args)
    for flag, low in (("eval_batch_size", 1), ("max_frames", 2)):
        check_range("--" + flag.replace("_", "-"), getattr(args, flag), low)
    check_budgets(args.budgets)
    chosen = args.methods or METHOD_NAMES.names()
    unknown = [m for m in chosen if m not in METHOD_NAMES]
    if unknown:
        raise ToolkitError(f"--methods: unknown {', '.join(unknown)}; choose from {', '.join(METHOD_NAMES.names())}")
    for name in args.presets:
        get_preset(name)
    if args.mufidelity:
        get_mufidelity_preset(args.mufidelity)
    params, texts = parse_params(args.param, chosen)
    validate_method_params(params, texts)
    samples = parse_eval_list(args.eval_list, args.Datasets)
    if args.photos:
        by_stem = {s.stem: s for s in samples}
        missing = [p for p in args.photos if p not in by_stem]
        if missing:
            raise ToolkitError(f"--photos: {', '.join(missing)} not in --eval-list {args.eval_list} "
                               f"({', '.join(by_stem)})")
        samples = [by_stem[p] for p in args.photos]
    if not samples:
        raise ToolkitError(f"--eval-list {args.eval_list}: no samples")
    methods = args.methods or available_methods()  # every method, in the registries' order (imports torch)
    if blackbox is None:
        blackbox = load_blackbox(args)
    out = Path(args.out)
    photos: dict[str, tuple[np.ndarray, int]] = {}

    def photo(sample: Sample) -> tuple[np.ndarray, int]:
        if sample.stem not in photos:
            image = blackbox.resize(sample.load())
            label = sample.label if sample.label is not None else int(blackbox.predict(blackbox.to_tensor(image)).argmax())
            photos[sample.stem] = (image, label)
        return photos[sample.stem]

    metric_settings = {"presets": args.presets, "mufidelity": args.mufidelity, "seed": args.seed,
                       "budgets": args.budgets, "model": args.model, "weights": args.weights,
                       **({"scores": args.scores} if args.scores else {})}  # (absent: caches of before stay valid)
    failed = 0
    for method in methods:
        map_settings = {"method": method, "params": params[method], "seed": args.seed, "model": args.model,
                        "weights": args.weights}
        map_dir, metric_dir = out / "maps" / method, out / "metrics" / method

        def make_map(sample: Sample, method: str = method, settings: dict = map_settings, folder: Path = map_dir) -> None:
            image, label = photo(sample)
            map_, cost = compute_map(method, params[method], blackbox, image, label, args.seed)
            write_npy_atomic(folder / f"{sample.stem}.npy", map_)
            write_json_atomic(folder / f"{sample.stem}.json", {"settings": settings, "target": label, **cost})

        failed += run_samples(samples, run_dir=out, desc=f"maps {method}", progress=not args.no_progress,
                    is_done=lambda s, f=map_dir, st=map_settings: _cached(f / f"{s.stem}.json", st) and
                    (f / f"{s.stem}.npy").is_file(), process=make_map).failed

        def make_metrics(sample: Sample, folder: Path = map_dir, target_dir: Path = metric_dir,
                         settings: dict = map_settings) -> None:
            image, label = photo(sample)
            map_ = np.load(folder / f"{sample.stem}.npy")
            scores = score_map(blackbox, blackbox.to_tensor(image), map_, label, args.presets, args.mufidelity,
                               args.seed, args.eval_batch_size, args.budgets, args.scores)
            write_json_atomic(target_dir / f"{sample.stem}.json",
                              {"settings": {**metric_settings, "map": settings}, **scores})

        failed += run_samples([s for s in samples if (map_dir / f"{s.stem}.npy").is_file()], run_dir=out,
                    desc=f"metrics {method}", progress=not args.no_progress,
                    is_done=lambda s, f=metric_dir, st=map_settings: _cached(
                        f / f"{s.stem}.json", {**metric_settings, "map": st}),
                    process=make_metrics).failed
    rows = summarise(out, methods, samples, args)
    write_table(out, rows, table_header(args, methods, params, samples, blackbox))
    draw_figures(out, methods, samples, args, photo, blackbox)
    return {"rows": rows, "out": str(out), "failed": failed}


def summarise(out: Path, methods: list[str], samples: list[Sample], args: argparse.Namespace) -> list[dict[str, Any]]:
    """One row per method: metric means over the photos that have results, and the map cost."""
    rows = []
    for method in methods:
        metrics = [json.loads(p.read_text()) for s in samples if (p := out / "metrics" / method / f"{s.stem}.json").is_file()]
        costs = [json.loads(p.read_text()) for s in samples if (p := out / "maps" / method / f"{s.stem}.json").is_file()]
        row: dict[str, Any] = {"method": method, "photos": len(metrics)}
        for name in args.presets:
            for game in ("insertion", "deletion"):
                row[f"{game}_{name}"] = mean_over_images([m[name][game] for m in metrics])
        if args.mufidelity:
            row[f"mufidelity_{args.mufidelity}"] = mean_over_images([m["mufidelity"] for m in metrics])
        for name in args.scores:
            row[name] = mean_over_images([m[name] for m in metrics])
        for budget in args.budgets:
            row[f"highest_confidence@{budget}"] = mean_over_images(
                [hc[0] for m in metrics if (hc := m["highest_confidence"][str(budget)]) is not None])
        row["map_seconds"] = mean_over_images([c["seconds"] for c in costs])
        row["map_forwards"] = mean_over_images([c["forwards"] for c in costs])
        rows.append(row)
    return rows


def _direction(column: str) -> str:
    base = column.split("@")[0]
    info = METRICS.get(base)
    return "" if info is None else (" ↑" if info.higher_is_better else " ↓")


def table_header(args: argparse.Namespace, methods: list[str], params: dict[str, dict[str, Any]],
                 samples: list[Sample], blackbox: Any) -> str:
    """The markdown lines above the table: model, photos, protocol (every preset spelled out), settings."""
    lines = [f"Model **{blackbox.name}** ({blackbox.input_size}x{blackbox.input_size}), {len(samples)} photo{'s' if len(samples) != 1 else ''} "
             f"({', '.join(s.stem for s in samples)}), seed {args.seed}, device {args.device}. Mean over photos.", ""]
    lines.append("Protocol:")
    for name in args.presets:
        p = get_preset(name)
        steps = f"{p.pixels_per_step} px/step" if p.schedule == "pixels_per_step" else f"{p.n_steps} steps"
        lines.append(f"- `{name}`: insertion from {p.insertion_start}, deletion to {p.deletion_end}, {steps}, "
                     f"scores the {p.target} ({p.reference}).")
    if args.mufidelity:
        c = get_mufidelity_preset(args.mufidelity)
        lines.append(f"- `mufidelity_{c.name}`: grid {c.grid_size}, {c.subset_percent:.0%} of cells removed "
                     f"({c.subset_sampling}), {c.nb_samples} samples, {c.correlation} correlation, baseline {c.baseline}.")
    for name in args.scores:
        lines.append(f"- `{name}`: {MAP_METRICS[name].info.description}.")
    if args.budgets:
        lines.append("- `highest_confidence@ρ`: highest label probability on the `smdl_baseline` insertion curve "
                     "revealing at most ρ of the image (spec smdl §5.3, here on every photo, not only misclassified ones).")
    lines.append("- `map_seconds`, `map_forwards`: cost of one map (forwards through the black box; gradient "
                 "methods call the network directly, so 0).")
    lines.append("")
    lines.append("Method settings: " + "; ".join(
        f"{m} {json.dumps(params[m]) if params[m] else '(defaults)'}" for m in methods) + ".")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if np.isnan(value) else (f"{value:.1f}" if abs(value) >= 100 else f"{value:.3f}")
    return str(value)


def write_table(out: Path, rows: list[dict[str, Any]], header: str) -> None:
    """``report.csv`` (raw numbers) and ``report.md`` (header + table with ↑/↓ on each metric)."""
    out.mkdir(parents=True, exist_ok=True)
    columns = list(rows[0])
    with open(out / "report.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    lines = [header, "", "| " + " | ".join(c + _direction(c) for c in columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(_fmt(row[c]) for c in columns) + " |" for row in rows]
    (out / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def draw_figures(out: Path, methods: list[str], samples: list[Sample], args: argparse.Namespace, photo: Any,
                 blackbox: Any) -> None:
    """``comparison.png`` (mean curves of the first preset), ``maps.png`` (method grid) and the optional GIF."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from common.figures import method_panel

    preset = args.presets[0]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for method in methods:
        metrics = [json.loads(p.read_text()) for s in samples if (p := out / "metrics" / method / f"{s.stem}.json").is_file()]
        if not metrics:
            continue
        for ax, game in zip(axes, ("insertion", "deletion")):
            curve = np.mean([m[preset][f"{game}_curve"] for m in metrics], axis=0)
            auc = np.mean([m[preset][game] for m in metrics])
            ax.plot(metrics[0][preset]["x"], curve, label=f"{method} ({auc:.3f})")
    for ax, game in zip(axes, ("insertion", "deletion")):
        ax.set_title(f"{game} ({preset}), mean over {len(samples)} photo{'s' if len(samples) != 1 else ''}", fontsize=10)
        ax.set_xlabel("fraction of pixels " + ("inserted" if game == "insertion" else "deleted"))
        ax.set_ylabel("probability of the scored class")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        # below the axes: a legend inside would cover curves
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    fig.tight_layout()
    fig.savefig(out / "comparison.png", dpi=110, bbox_inches="tight")
    plt.close(fig)

    rows, images, labels = [], [], []
    for sample in samples:
        row = {m: dense(np.load(p)) for m in methods if (p := out / "maps" / m / f"{sample.stem}.npy").is_file()}
        if row:
            rows.append(row)
            images.append(photo(sample)[0])
            labels.append(sample.stem)
    if rows:
        method_panel(images, rows, out / "maps.png", style="heat", row_labels=labels)
    if args.animate and rows:
        from common.figures import animate_insertion
        from evals.causal import insertion_images

        method, sample = methods[0], samples[0]
        metrics_path = out / "metrics" / method / f"{sample.stem}.json"
        if metrics_path.is_file():
            scores = json.loads(metrics_path.read_text())[preset]
            image = photo(sample)[0]
            saliency = dense(np.load(out / "maps" / method / f"{sample.stem}.npy"))
            animate_insertion(lambda f: insertion_images(image, saliency, f, preset, blackbox),
                              np.asarray(scores["x"]), np.asarray(scores["insertion_curve"]),
                              out / f"insertion_{method}_{sample.stem}.gif", preset=preset,
                              title=f"{method}, {sample.stem}", max_frames=args.max_frames)


def build_parser() -> argparse.ArgumentParser:
    parser = entry_parser("evals.report", __doc__)
    parser.add_argument("--eval-list", default="demo", help="eval list file of 'path label' lines, or 'demo'")
    parser.add_argument("--Datasets", default=".", help="folder the eval-list paths are relative to")
    parser.add_argument("--photos", nargs="+", default=None,
                        help="only these samples (result names without extension, e.g. coffee chelsea)")
    parser.add_argument("--methods", nargs="+", default=None, type=METHOD_NAMES, metavar="METHOD",
                        help="methods to compare: " + ", ".join(REPORT_METHODS) + " (default: all of them)")
    parser.add_argument("--param", action="append", default=[],
                        help="method setting METHOD.KEY=VALUE, repeatable, checked before the model loads as the "
                             "family's CLI checks its flags (smdl.division, smdl.selector, smdl.<division option>, "
                             "smdl.lambdas=[0,0.05,1,1], smdl.selector_options={lazy_batch: 4}, la.max_iter, "
                             "rise.n_masks, ...)")
    parser.add_argument("--presets", nargs="+", default=["rise2018", "smdl_baseline", "xplique", "la"],
                        choices=list(PRESETS), help="insertion/deletion presets (the first one is drawn)")
    parser.add_argument("--mufidelity", default="smdl_clip", choices=list(MUFIDELITY_PRESETS) + [""],
                        help="MuFidelity preset ('' = none)")
    parser.add_argument("--scores", nargs="+", default=[], choices=list(MAP_METRICS),
                        help="per-map metrics to add (evals.metrics.MAP_METRICS: one file each)")
    parser.add_argument("--budgets", type=float, nargs="*", default=[0.25],
                        help="highest-confidence area fractions in (0, 1], read on the smdl_baseline insertion curve "
                             "(computed for it when smdl_baseline is not in --presets)")
    add_model_flags(parser)
    parser.add_argument("--eval-batch-size", type=int, default=64,
                        help="perturbed images built at once by the metrics (memory; not the result)")
    parser.add_argument("--seed", type=int, default=0, help="seed of stochastic methods and MuFidelity masks")
    parser.add_argument("--save-dir", dest="out", default="report", help="output folder (maps and metrics are cached there)")
    parser.add_argument("--animate", action="store_true",
                        help="also write an insertion GIF of the first method on the first photo")
    parser.add_argument("--max-frames", type=int, default=40, help="frames of the GIF (curve points subsampled)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return add_aliases(normalise_flags(parser), {"--save-dir": ["--out"]})


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    result = exit_on_toolkit_error(run_report)(args)
    print((Path(args.out) / "report.md").read_text())
    if result["failed"]:
        print(f"warning: {result['failed']} maps or scores failed (see {Path(args.out) / 'errors.jsonl'}); the "
              "table covers the rest", file=sys.stderr)
        raise SystemExit(1)
    return result


if __name__ == "__main__":
    main()
