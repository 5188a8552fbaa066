"""Bad input to the map evaluators (``evals.eval_AUC_faithfulness_baseline``, ``evals.report``): one line naming
the file or flag, never a traceback; flags checked before torch is imported; work asked and not done exits
non-zero. Rows of the README's bad-input table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from evals import eval_AUC_faithfulness_baseline as folder_eval
from evals import report
from tests.test_evals_report import toy_box, toy_eval_list

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def maps_case(tmp_path, monkeypatch):
    """Two toy photos (labels 1, 2), a toy black box, and a maps folder with a good map for both."""
    import models

    box = toy_box()
    calls = []

    def fake_load_model(*args, **kwargs):
        calls.append(kwargs)
        return box

    monkeypatch.setattr(models, "load_model", fake_load_model)
    eval_list = toy_eval_list(tmp_path)
    maps = tmp_path / "maps"
    for label, stem in ((1, "coffee"), (2, "chelsea")):
        (maps / str(label)).mkdir(parents=True)
        np.save(maps / str(label) / f"{stem}.npy", np.random.default_rng(label).random((32, 32)).astype(np.float32))
    flags = ["--maps-dir", str(maps), "--eval-list", eval_list, "--Datasets", str(tmp_path), "--no-progress"]
    return maps, flags, calls


@pytest.mark.parametrize("bad", ["nan", "inf", "shape", "unreadable"])
def test_a_bad_map_file_is_named_and_left_out(maps_case, bad, capsys):
    maps, flags, _ = maps_case
    path = maps / "2" / "chelsea.npy"
    if bad in ("nan", "inf"):
        array = np.load(path)
        array[3, 4] = float(bad)
        np.save(path, array)
    elif bad == "shape":
        np.save(path, np.zeros((16, 16), np.float32))
    else:
        path.write_bytes(b"not a numpy file")
    with pytest.raises(SystemExit) as exc:
        folder_eval.main(flags)
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert f"skipped {path}" in err and "the means cover 1 of 2" in err
    assert {"nan": "NaN or inf", "inf": "NaN or inf", "shape": "not the model input size",
            "unreadable": "not a readable .npy"}[bad] in err
    summary = json.loads((maps / "auc_smdl_baseline.json").read_text())
    assert summary["num_images"] == 1 and summary["skipped"][0]["json"] == str(path)
    assert folder_eval.main(flags + ["--allow-skipped"])["num_images"] == 1


def test_a_folder_of_nan_maps_is_one_line_not_a_traceback(maps_case, capsys):
    """Was: a Python traceback naming no file (issue 16)."""
    maps, flags, _ = maps_case
    for path in maps.rglob("*.npy"):
        np.save(path, np.full((32, 32), np.nan, np.float32))
    with pytest.raises(SystemExit) as exc:
        folder_eval.main(flags)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "none of the 2 map files can be scored" in err
    assert "coffee.npy: 1024 NaN or inf values" in err


@pytest.mark.parametrize("extra, message", [
    (["--steps", "0"], "--steps 0: must be >= 1"),
    (["--steps", "-3"], "--steps -3: must be >= 1"),
    (["--preset", "la", "--steps", "5"], "--steps 5: preset la moves 224 pixels per step"),
    (["--budgets", "nan"], "--budgets nan: must be a fraction of the image in (0, 1]"),
    (["--budgets", "2"], "--budgets 2.0: must be a fraction of the image in (0, 1]"),
    (["--budgets", "0"], "--budgets 0.0: must be a fraction"),
    (["--weights", "/no/such/w.pth"], "--weights /no/such/w.pth: file not found"),
], ids=["steps_0", "steps_negative", "steps_with_pixel_preset", "budgets_nan", "budgets_2", "budgets_0",
        "weights_missing"])
def test_folder_eval_flag_errors_before_the_model(maps_case, extra, message, capsys):
    _, flags, calls = maps_case
    with pytest.raises(SystemExit) as exc:
        folder_eval.main(flags + extra)
    assert exc.value.code == 2
    assert f"error: {message}" in capsys.readouterr().err
    assert not calls  # the model was never loaded


def test_steps_and_weights_reach_the_evaluation(maps_case, tmp_path):
    """``--steps 5`` gives 6-point curves (was ignored for 0 and passed for others); ``--weights`` goes to the
    model loader (was: no such flag, although the error message asked for it)."""
    _, flags, calls = maps_case
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"x")
    summary = folder_eval.main(flags + ["--steps", "5", "--weights", str(weights), "--model", "resnet50"])
    assert summary["n_steps"] == 5 and len(summary["images"][0]["insertion_curve"]) == 6
    assert calls[0]["weights"] == str(weights)


@pytest.mark.parametrize("extra, message", [
    (["--budgets", "nan"], "--budgets nan: must be a fraction"),
    (["--budgets", "2"], "--budgets 2.0: must be a fraction"),
    (["--weights", "/no/such/w.pth"], "--weights /no/such/w.pth: file not found"),
    (["--batch-size", "0"], "--batch-size 0: must be >= 1"),
], ids=["budgets_nan", "budgets_2", "weights_missing", "batch_size_0"])
def test_report_flag_errors_before_the_model(tmp_path, extra, message):
    args = report.build_parser().parse_args(["--methods", "sm", "--out", str(tmp_path)] + extra)
    with pytest.raises(report.ToolkitError, match=message.replace("(", r"\(").replace(".", r"\.")):
        report.run_report(args)


def test_report_keeps_budgets_without_the_smdl_baseline_preset(tmp_path):
    """Was: the highest-confidence column silently dropped when smdl_baseline was not among --presets."""
    args = report.build_parser().parse_args([
        "--methods", "sm", "--presets", "xplique", "--mufidelity", "", "--budgets", "0.5", "1.0", "--no-progress",
        "--eval-list", toy_eval_list(tmp_path), "--Datasets", str(tmp_path), "--out", str(tmp_path / "rep")])
    rows = report.run_report(args, blackbox=toy_box())["rows"]
    metrics = json.loads((tmp_path / "rep" / "metrics" / "sm" / "coffee.json").read_text())
    best = max(metrics["smdl_baseline"]["insertion_curve"][1:])
    assert metrics["highest_confidence"]["1.0"][0] == pytest.approx(best)
    assert 0.0 < rows[0]["highest_confidence@1.0"] <= 1.0
    assert "insertion_smdl_baseline" not in rows[0]  # scored for the budgets, not shown as a preset


NO_TORCH = """
import runpy, sys
sys.argv = ["x"] + sys.argv[1:]
try:
    runpy.run_module(MODULE, run_name="__main__")
except SystemExit as exc:
    print("exit", exc.code, "torch" in sys.modules)
"""


@pytest.mark.parametrize("module", ["evals.report", "evals.eval_AUC_faithfulness_baseline"])
@pytest.mark.parametrize("argv, code", [(["--help"], 0), (["--maps-dir", "x", "--budgets", "2"], 2)],
                         ids=["help", "flag_error"])
def test_help_and_flag_errors_import_no_torch(module, argv, code, tmp_path):
    """``--help`` took 25 s (report) and 19 s (folder eval) under load: torch was imported first."""
    if module == "evals.report":
        argv = [a for a in argv if a not in ("--maps-dir", "x")] + ["--out", str(tmp_path)]
    out = subprocess.run([sys.executable, "-c", NO_TORCH.replace("MODULE", repr(module)), *argv], cwd=ROOT,
                         capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"})
    assert out.stdout.strip().splitlines()[-1] == f"exit {code} False", out.stdout + out.stderr


@pytest.mark.parametrize("module", ["evals.report", "evals.eval_AUC_faithfulness_baseline"])
def test_help_shows_each_default_once(module, capsys):
    import importlib

    with pytest.raises(SystemExit):
        importlib.import_module(module).main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: None)" not in text and "default: ImageNet) (default" not in text
    assert "--weights" in text and "(default: efficientnet_lite0)" in text


@pytest.mark.parametrize("module", ["visualization.demo", "visualization.la_figures",
                                    "visualization.insertion_animation", "evals.eval_la"])
def test_other_eval_and_figure_help_imports_no_torch(module):
    out = subprocess.run([sys.executable, "-c", NO_TORCH.replace("MODULE", repr(module)), "--help"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"})
    assert out.stdout.strip().splitlines()[-1] == "exit 0 False", out.stdout + out.stderr


def test_report_exits_1_when_a_map_failed(tmp_path, monkeypatch, capsys):
    """A photo whose map cannot be computed: the table covers the others, the exit status says work is missing
    (was: exit 0)."""
    import models

    monkeypatch.setattr(models, "load_model", lambda *a, **k: toy_box())
    eval_list = Path(toy_eval_list(tmp_path))
    eval_list.write_text(eval_list.read_text() + "ghost.png 1\n")
    with pytest.raises(SystemExit) as exc:
        report.main(["--methods", "sm", "--presets", "xplique", "--mufidelity", "", "--budgets", "--no-progress",
                     "--eval-list", str(eval_list), "--Datasets", str(tmp_path), "--save-dir", str(tmp_path / "r")])
    assert exc.value.code == 1
    assert "1 maps or scores failed" in capsys.readouterr().err
    rows = (tmp_path / "r" / "report.csv").read_text().splitlines()
    assert rows[1].startswith("sm,2,")


def test_animation_of_a_nan_map_names_the_file(tmp_path, monkeypatch, capsys):
    import models
    from visualization import insertion_animation

    monkeypatch.setattr(models, "load_model", lambda *a, **k: pytest.fail("the model must not load"))
    bad = tmp_path / "m.npy"
    np.save(bad, np.full((32, 32), np.nan, np.float32))
    with pytest.raises(SystemExit) as exc:
        insertion_animation.main(["--map", str(bad), "--image", "demo:coffee", "--out", str(tmp_path / "a.gif")])
    assert exc.value.code == 2
    assert f"error: --map {bad}: 1024 NaN or inf values" in capsys.readouterr().err


# evals.report --param: (params, the one error line) -- each checked as the family's CLI checks its flags, before
# torch is imported (was: smdl.* bypassed the driver's checks and put e.g. a one-region map in the table, exit 0;
# baseline/local values failed per photo after the model loaded)
REPORT_PARAM_CASES = {
    "smdl_grid_size_negative": (["smdl.division=grid", "smdl.grid_size=-1"],
                                "error: --param smdl.grid_size=-1: must be >= 1"),
    "smdl_grid_size_too_many_regions": (["smdl.division=grid", "smdl.grid_size=40"],
                                        "error: --param smdl.grid_size=40: ~1600 regions at 224x224, more than max_regions"),
    "smdl_region_size_too_large": (["smdl.region_size=1e9"],
                                   "error: --param smdl.region_size=1e9: must be between 1 and 112"),
    "smdl_lambda_overflow": (["smdl.lambdas=[1e308, 0, 1, 1]"],
                             "error: --param smdl.lambdas=[1e308, 0, 1, 1]: λ1 1e+308: F = Σ λ·term can reach 1e+308, "
                             "beyond float32"),
    "smdl_lambdas_all_zero": (["smdl.lambdas=[0, 0, 0, 0]"], "error: --param smdl.lambdas=[0, 0, 0, 0]: λ1..4 are all 0"),
    "smdl_lambdas_not_four_numbers": (["smdl.lambdas=[1, 2]"],
                                      "error: --param smdl.lambdas=[1, 2]: needs 4 numbers [λ1, λ2, λ3, λ4]"),
    "smdl_option_of_another_division": (["smdl.grid_size=4"],
                                        "error: --param smdl.grid_size=4: division slico does not take grid_size; it "
                                        "takes region_size"),
    "smdl_unknown_selector": (["smdl.selector=bogus"],
                              "error: --param smdl.selector=bogus: unknown selector; choose one of bidirectional"),
    "smdl_selector_option_range": (["smdl.selector=lazy", "smdl.selector_options={lazy_batch: 0}"],
                                   "error: --param smdl.selector_options={lazy_batch: 0}: lazy_batch 0: must be >= 1"),
    "smdl_selector_option_unknown": (["smdl.selector=lazy", "smdl.selector_options={window: 3}"],
                                     "error: --param smdl.selector_options={window: 3}: selector lazy does not take window"),
    "rise_n_masks_0": (["rise.n_masks=0"], "error: --param rise.n_masks=0: rise needs an integer >= 1"),
    "rise_p_keep_2": (["rise.p_keep=2"], "error: --param rise.p_keep=2: rise needs a finite number in (0, 1]"),
    "rise_p_keep_nan": (["rise.p_keep=nan"], "error: --param rise.p_keep=nan: rise needs a finite number in (0, 1]"),
    "rise_unknown_parameter": (["rise.bogus=1"], "error: --param rise.bogus: not a parameter of rise; its parameters: "
                                                 "n_masks, grid_size, p_keep"),
    "hsic_grid_size_0": (["hsic.grid_size=0"], "error: --param hsic.grid_size=0: hsic needs an integer >= 1"),
    "la_rule_clip": (["la.clip_min=2"], "error: --param la.clip_min=2: clip_min must be below clip_max"),
    "la_max_iter_0": (["la.max_iter=0"], "error: --param la.max_iter=0: la needs an integer >= 1"),
    "not_yaml": (["la.max_iter=[1"], "error: --param la.max_iter=[1: '[1' is not a YAML value"),
}


@pytest.fixture(scope="module")
def report_param_probe() -> dict[str, dict]:
    """Every case of :data:`REPORT_PARAM_CASES` run as ``python -m evals.report`` in one subprocess where importing
    torch raises (``tests.entry_probe``)."""
    cases = {}
    for name, (params, _) in REPORT_PARAM_CASES.items():
        methods = sorted({p.split(".")[0] for p in params})
        cases[name] = ["--methods", *methods, *(a for p in params for a in ("--param", p)), "--save-dir", "/tmp/x"]
    proc = subprocess.run([sys.executable, "-m", "tests.entry_probe",
                           json.dumps([["evals.report", args] for args in cases.values()])],
                          capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return dict(zip(cases, results))


@pytest.mark.parametrize("case", list(REPORT_PARAM_CASES))
def test_report_param_is_checked_like_the_cli_before_torch(case, report_param_probe):
    result = report_param_probe[case]
    assert result["torch"] is None, f"imports {result['torch']} before refusing: {result['error']}"
    assert result["code"] == 2 and result["error"] is None, result
    lines = [line for line in result["stderr"].splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(REPORT_PARAM_CASES[case][1]), result["stderr"]


def test_report_param_values_that_pass_the_checks():
    """Values in range pass; ``1e-3`` is a number (plain YAML reads it as a string), lists and mappings parse."""
    params, texts = report.parse_params(
        ["rise.p_keep=1e-3", "rise.n_masks=8", "la.max_iter=2", "smdl.division=grid", "smdl.grid_size=4",
         "smdl.lambdas=[0, 0.05, 1, 1]", "smdl.selector=lazy", "smdl.selector_options={lazy_batch: 2}"],
        ["rise", "la", "smdl"])
    assert params["rise"] == {"p_keep": 0.001, "n_masks": 8} and texts["rise"]["p_keep"] == "1e-3"
    assert params["smdl"]["lambdas"] == [0, 0.05, 1, 1] and params["smdl"]["selector_options"] == {"lazy_batch": 2}
    report.validate_method_params(params, texts)  # no error


def test_report_smdl_lambdas_and_selector_options_reach_the_explainer(tmp_path):
    """``smdl.lambdas`` and ``smdl.selector_options`` (checked by the driver's checks) are used: the report's map is
    the explainer's with those settings (was: passed to the division as options, an error per photo)."""
    from common.images import load_image
    from submodular_attribution import Lambdas, SubmodularExplainer

    box = toy_box()
    eval_list = toy_eval_list(tmp_path)
    args = report.build_parser().parse_args([
        "--methods", "smdl", "--param", "smdl.division=grid", "--param", "smdl.grid_size=3",
        "--param", "smdl.lambdas=[0.5, 0, 1, 2]", "--param", "smdl.selector=lazy",
        "--param", "smdl.selector_options={lazy_batch: 2}", "--presets", "xplique", "--mufidelity", "",
        "--budgets", "--photos", "coffee", "--no-progress", "--eval-list", eval_list, "--Datasets", str(tmp_path),
        "--save-dir", str(tmp_path / "rep")])
    report.run_report(args, blackbox=box)
    explainer = SubmodularExplainer(box, "grid", {"grid_size": 3}, Lambdas(0.5, 0, 1, 2), selector="lazy",
                                    selector_options={"lazy_batch": 2})
    expected = explainer.explain(box.resize(load_image(tmp_path / "coffee.png")), 1).saliency_map()
    np.testing.assert_array_equal(np.load(tmp_path / "rep" / "maps" / "smdl" / "coffee.npy"), expected)


# visualization.insertion_animation: (flags after --map GOOD, the one error line); all before torch is imported
# (was: torch and the model loaded first; the --image error named no flag; no --weights)
ANIMATION_CASES = {
    "image_missing": (["--image", "/no/such/i.png"], "error: --image /no/such/i.png: file not found"),
    "image_unknown_demo": (["--image", "demo:bogus"], "error: --image demo:bogus: unknown demo photo 'bogus'"),
    "weights_missing": (["--image", "demo:coffee", "--weights", "/no/w.pth"], "error: --weights /no/w.pth: file not found"),
    "fps_0": (["--image", "demo:coffee", "--fps", "0"], "error: --fps 0: must be >= 1"),
    "max_frames_1": (["--image", "demo:coffee", "--max-frames", "1"], "error: --max-frames 1: must be >= 2"),
    "map_nan": (["--image", "demo:coffee"], "error: --map NAN: 1024 NaN or inf values"),
    "map_unreadable": (["--image", "demo:coffee"], "error: --map BAD: not a readable .npy map"),
}


@pytest.fixture(scope="module")
def animation_probe(tmp_path_factory) -> tuple[dict[str, dict], dict[str, str]]:
    folder = tmp_path_factory.mktemp("animation")
    files = {"GOOD": folder / "good.npy", "NAN": folder / "nan.npy", "BAD": folder / "bad.npy"}
    np.save(files["GOOD"], np.zeros((32, 32), np.float32))
    np.save(files["NAN"], np.full((32, 32), np.nan, np.float32))
    files["BAD"].write_bytes(b"not numpy")
    cases = []
    for name, (flags, _) in ANIMATION_CASES.items():
        map_file = files["NAN" if name == "map_nan" else "BAD" if name == "map_unreadable" else "GOOD"]
        cases.append(["visualization.insertion_animation", ["--map", str(map_file), *flags, "--out", str(folder / "a.gif")]])
    proc = subprocess.run([sys.executable, "-m", "tests.entry_probe", json.dumps(cases)], capture_output=True,
                          text=True, cwd=ROOT, timeout=300, env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return dict(zip(ANIMATION_CASES, results)), {k: str(v) for k, v in files.items()}


@pytest.mark.parametrize("case", list(ANIMATION_CASES))
def test_animation_bad_input_is_refused_before_torch(case, animation_probe):
    results, files = animation_probe
    result = results[case]
    expected = ANIMATION_CASES[case][1]
    for key, path in files.items():
        expected = expected.replace(f"--map {key}:", f"--map {path}:")
    assert result["torch"] is None, f"imports {result['torch']} before refusing: {result['error']}"
    assert result["code"] == 2 and result["error"] is None, result
    lines = [line for line in result["stderr"].splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(expected), result["stderr"]


def test_animation_weights_reach_the_model_loader(tmp_path, monkeypatch):
    """``--weights`` (new here) goes to the model loader, as in the report and the folder eval."""
    import models

    calls = []

    def fake_load_model(*args, **kwargs):
        calls.append(kwargs)
        return toy_box()

    monkeypatch.setattr(models, "load_model", fake_load_model)
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"x")
    np.save(tmp_path / "m.npy", np.random.default_rng(0).random((32, 32)).astype(np.float32))
    from visualization import insertion_animation

    out = insertion_animation.main(["--map", str(tmp_path / "m.npy"), "--image", "demo:coffee", "--weights",
                                    str(weights), "--max-frames", "3", "--out", str(tmp_path / "a.gif")])
    assert calls[0]["weights"] == str(weights) and out.stat().st_size > 0
