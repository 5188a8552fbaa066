"""Every entry module: ``--help`` and a bad flag value are answered without importing torch, the help shows
each default once and lists the valid names of ``--method`` / ``--selector`` / ``--methods`` / ``--attr-method``.

No timing is asserted (the machine is shared): the tests check that torch is never imported, which is what made
``--help`` and flag errors take 3-25 s. All cases run in one subprocess (``tests/entry_probe.py``) where importing
torch raises at once, so a module that would import it fails fast and is reported.

Cases marked ``xfail(strict=True)`` are modules whose owners (other branches) still import torch early; when they
are fixed the test turns XPASS, fails, and the mark must be removed.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

_SMDL = "submodular_attribution."
HELP_XFAIL: dict[str, str] = {}
SMDL_PRESETS = ["smdl_explanation_imagenet_superpixel", "lima_explanation_imagenet_superpixel",
                "smdl_explanation_imagenet_clip_superpixel", "smdl_explanation_imagenet_clip_sam",
                "smdl_explanation_cub_prior", "smdl_explanation_cub_superpixel", "smdl_explanation_face_superpixel",
                "smdl_explanation_lung_quilt_superpixel"]
ENTRY_MODULES = [
    *(_SMDL + p for p in [*SMDL_PRESETS, "cli"]),
    "evals.eval_AUC_faithfulness", "evals.eval_highest_confidence", "evals.eval_AUC_faithfulness_baseline",
    "evals.report", "evals.eval_la", "visualization.demo", "visualization.insertion_animation",
    "visualization.la_figures", "baseline_attribution.generate_explanation_maps", "local_attribution.generate_pt",
    "local_attribution.generate_attributions", "scripts.demo", "scripts.benchmark_smdl", "scripts.benchmark_selection",
    "scripts.benchmark_baselines", "scripts.benchmark_la", "scripts.benchmark_prefetch", "scripts.benchmark_cpu", "scripts.benchmark_la_batch",
]
# (module, bad flags, text the one error must contain, xfail reason or None)
BAD_VALUES = [
    (_SMDL + "smdl_explanation_imagenet_superpixel", ["--selector", "bogus"], "'bidirectional', 'coarse'", None),
    (_SMDL + "smdl_explanation_imagenet_superpixel", ["--batch-size", "0"], "--batch-size 0", None),
    (_SMDL + "lima_explanation_imagenet_superpixel", ["--region-size", "0"], "--region-size 0", None),
    (_SMDL + "smdl_explanation_imagenet_clip_superpixel", ["--lambda1", "nan"], "--lambda1 nan", None),
    (_SMDL + "cli", ["--preset", "bogus"], "--preset bogus: unknown preset; choose one of smdl_explanation_imagenet", None),
    (_SMDL + "cli", ["--preset", "smdl_explanation_cub_prior", "--region-size", "0"], "--region-size 0", None),
    ("evals.eval_AUC_faithfulness", ["--explanation-dir", "/nonexistent/run"], "--explanation-dir", None),
    ("evals.eval_highest_confidence", ["--explanation-dir", "/nonexistent/run"], "--explanation-dir", None),
    ("evals.eval_AUC_faithfulness_baseline", ["--maps-dir", "/nonexistent/maps"], "--maps-dir", None),
    ("evals.report", ["--methods", "bogus"], "--methods", None),
    ("evals.eval_la", ["--attr-method", "bogus"], "choose one of la, agi", None),
    ("visualization.demo", ["--explanation-dir", "/nonexistent/run"], "--explanation-dir", None),
    ("visualization.insertion_animation", ["--map", "/nonexistent/m.npy", "--image", "/nonexistent/i.png"],
     "/nonexistent/", None),
    ("visualization.la_figures", ["--style", "bogus"], "--style", None),
    ("baseline_attribution.generate_explanation_maps", ["--method", "bogus"], "'gradcam', 'gradcampp'", None),
    ("baseline_attribution.generate_explanation_maps", ["--method", "rise", "--batch-size", "0"], "--batch-size 0",
     None),
    ("local_attribution.generate_pt", ["--size", "0"], "--size 0", None),
    ("local_attribution.generate_attributions", ["--attr-method", "bogus"], "'la', 'agi'", None),
    ("local_attribution.generate_attributions", ["--batch-size", "0"], "--batch-size 0", None),
    ("scripts.demo", ["--bogus-flag"], "unrecognized arguments", None),
    ("scripts.benchmark_smdl", ["--configs", "bogus"], "invalid choice", None),
    ("scripts.benchmark_selection", ["--bogus-flag"], "unrecognized arguments", None),
    ("scripts.benchmark_baselines", ["--methods", "bogus"], "invalid choice", None),
    ("scripts.benchmark_la", ["--bogus-flag"], "unrecognized arguments", None),
    ("scripts.benchmark_prefetch", ["--bogus-flag"], "unrecognized arguments", None),
]
# module -> {flag: the names its help must list} (static lists of common.names, checked against the registries)
LISTED_NAMES = {
    **{_SMDL + p: {"--selector": "SELECTORS"} for p in [*SMDL_PRESETS, "cli"]},
    "scripts.benchmark_smdl": {"--selector": "SELECTORS"},
    "baseline_attribution.generate_explanation_maps": {"--method": "BASELINE_METHODS"},
    "scripts.benchmark_baselines": {"--methods": "BASELINE_METHODS"},
    "evals.report": {"--methods": "REPORT_METHODS"},
    "local_attribution.generate_attributions": {"--method": "LA_METHODS"},
    "evals.eval_la": {"--method": "LA_METHODS"},
    "scripts.benchmark_la": {"--methods": "LA_METHODS"},
    "visualization.la_figures": {"--methods": "LA_METHODS"},
}


@pytest.fixture(scope="module")
def probe() -> dict[tuple[str, tuple[str, ...]], dict]:
    """Run every case in one subprocess with torch blocked; results keyed by (module, args)."""
    cases = [[m, ["--help"]] for m in ENTRY_MODULES] + [[m, flags] for m, flags, _, _ in BAD_VALUES]
    proc = subprocess.run([sys.executable, "-m", "tests.entry_probe", json.dumps(cases)], capture_output=True,
                          text=True, cwd=ROOT, timeout=300, env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return {(r["module"], tuple(r["args"])): r for r in results}


def test_every_entry_module_of_the_readme_is_covered():
    text = (ROOT / "README.md").read_text()
    table = text[text.index("## Entry modules"):text.index("## Architecture")]
    listed = set(re.findall(r"^\| `python -m ([\w.]+)", table, re.MULTILINE))
    assert listed and listed <= set(ENTRY_MODULES), sorted(listed - set(ENTRY_MODULES))


def _marked(module: str, reason: str | None):
    return pytest.param(module, marks=pytest.mark.xfail(strict=True, reason=reason)) if reason else module


@pytest.mark.parametrize("module", [_marked(m, HELP_XFAIL.get(m)) for m in ENTRY_MODULES])
def test_help_imports_no_torch_shows_one_default_and_lists_names(module, probe):
    result = probe[(module, ("--help",))]
    assert result["torch"] is None, f"{module} --help imports {result['torch']}:\n{(result['error'] or '')[-1500:]}"
    assert result["code"] == 0 and "usage:" in result["stdout"], result
    help_text = result["stdout"]
    entries = re.split(r"\n(?=  -)", help_text)  # one chunk per option
    for entry in entries:
        flat = " ".join(entry.split())
        assert flat.count("(default") <= 1, f"{module}: default shown twice: {flat}"
        assert "(default: None)" not in flat and "(default: False)" not in flat, f"{module}: {flat}"
    from common import names

    for flag, attribute in LISTED_NAMES.get(module, {}).items():
        entry = next(e for e in entries if e.lstrip("\n").split()[0].rstrip(",") == flag)
        flat = " ".join(entry.split())
        missing = [n for n in getattr(names, attribute) if not re.search(rf"\b{n}\b", flat)]
        assert not missing, f"{module} {flag}: help does not list {missing}"


@pytest.mark.parametrize("module,flags,expected", [
    pytest.param(m, f, e, marks=pytest.mark.xfail(strict=True, reason=r)) if r else pytest.param(m, f, e)
    for m, f, e, r in BAD_VALUES])
def test_bad_value_is_refused_before_torch_is_imported(module, flags, expected, probe):
    result = probe[(module, tuple(flags))]
    assert result["torch"] is None, f"{module} {flags} imports {result['torch']} before refusing"
    assert result["code"] == 2, result
    errors = [line for line in result["stderr"].splitlines() if "error" in line]
    assert len(errors) == 1 and expected in errors[0], result["stderr"]


def test_static_names_equal_the_registries():
    import baseline_attribution
    import local_attribution
    import models
    from common import names
    from evals.report import available_methods
    from submodular_attribution.selection import SELECTORS

    assert names.LA_METHODS == tuple(local_attribution.list_methods())
    assert names.BASELINE_METHODS == tuple(baseline_attribution.list_methods())
    assert names.SELECTORS == tuple(sorted(SELECTORS)) and "greedy" in names.SELECTORS
    assert set(names.MODELS) <= set(models.list_models()) and len(names.MODELS) == len(
        [m for m in models.list_models() if not m.startswith("toy")])
    assert set(names.REPORT_METHODS) == set(available_methods()) and len(names.REPORT_METHODS) == len(available_methods())


def test_a_runtime_registered_name_is_accepted_once_its_registry_is_loaded(monkeypatch):
    """Static names answer without the registry; a name registered at run time (the toy models) still works."""
    import argparse

    from common.cli_style import LazyChoices
    from common.names import MODELS
    from tests import toy_models

    choices = LazyChoices(lambda: __import__("models").list_models(), MODELS, "models.registry")
    toy_models.register(monkeypatch)  # imports models.registry
    assert choices("toy") == "toy" and choices("resnet50") == "resnet50"
    with pytest.raises(argparse.ArgumentTypeError, match="unknown 'resnet5O'; choose one of efficientnet_lite0"):
        choices("resnet5O")


@pytest.mark.parametrize("family, info_type", [("local_attribution", "LocalInfo"), ("baseline_attribution", "MethodInfo")])
def test_every_method_file_is_imported_through_its_spec_entry(family, info_type):
    """A method's spec entry is its one registration line: the package imports exactly the files that declare a
    method (``info = ...Info(``), found here by reading the sources, not from the code under test."""
    import importlib
    import re

    package = importlib.import_module(family)
    pattern = re.compile(rf"^    info = {info_type}\(", re.M)  # a class body's line, not a docstring's
    declaring = {p.stem for p in (ROOT / family).glob("*.py") if pattern.search(p.read_text(encoding="utf-8"))}
    assert set(package.METHOD_MODULES) == declaring
