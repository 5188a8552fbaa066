"""The SMDL presets are data in one library module (``submodular_attribution/presets.py``): every entry module is
its docstring and ``run_preset("<its name>")``, and ``python -m submodular_attribution.cli --preset NAME`` runs the
driver with that preset's defaults."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from common.errors import ToolkitError
from submodular_attribution.presets import DEFAULT_PRESET, PRESETS, get_preset

PACKAGE = Path(__file__).resolve().parents[1] / "submodular_attribution"
ENTRY_FILES = sorted(p.stem for p in PACKAGE.glob("*_explanation_*.py"))


def test_every_preset_has_its_entry_module_and_back():
    assert ENTRY_FILES == sorted(PRESETS)
    assert DEFAULT_PRESET in PRESETS


@pytest.mark.parametrize("name", ENTRY_FILES)
def test_entry_module_is_a_docstring_and_run_preset_of_its_own_name(name):
    tree = ast.parse((PACKAGE / f"{name}.py").read_text(encoding="utf-8"))
    docstring, imported, main_block = tree.body
    assert isinstance(docstring, ast.Expr) and isinstance(docstring.value, ast.Constant)
    assert isinstance(imported, ast.ImportFrom) and imported.module == "submodular_attribution.driver"
    assert [alias.name for alias in imported.names] == ["run_preset"]
    assert isinstance(main_block, ast.If) and ast.unparse(main_block.test) == "__name__ == '__main__'"
    (call,) = main_block.body
    assert ast.unparse(call) == f"run_preset({name!r})"
    assert PRESETS[name].prog == f"submodular_attribution.{name}"


def test_unknown_preset_is_a_one_line_error():
    with pytest.raises(ToolkitError, match=r"^--preset nope: unknown preset; choose one of smdl_explanation_imagenet_superpixel, "):
        get_preset("nope")
    assert get_preset(PRESETS["smdl_explanation_cub_prior"]) is PRESETS["smdl_explanation_cub_prior"]


@pytest.mark.parametrize("flags,model,region_size,lambdas", [
    ([], "efficientnet_lite0", 30, (0.0, 0.05, 1.0, 1.0)),
    (["--preset", "smdl_explanation_face_superpixel", "--uncertainty-model", "none"], "embed:efficientnet_lite0", 15,
     (1.0, 1.0, 1.0, 1.0)),
    (["--preset", "lima_explanation_imagenet_superpixel", "--region-size", "40"], "efficientnet_lite0", 40,
     (0.01, 0.0, 20.0, 5.0)),
])
def test_cli_runs_the_driver_with_the_chosen_presets_defaults(tmp_path, monkeypatch, flags, model, region_size, lambdas):
    from common.results import BatchReport
    from submodular_attribution import cli, driver

    seen = []
    monkeypatch.setattr(driver, "run", lambda args: seen.append(args) or (tmp_path, BatchReport()))
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*flags, "--save-dir", str(tmp_path)])
    assert exit_info.value.code == 0
    (args,) = seen
    assert (args.model, args.region_size, (args.lambda1, args.lambda2, args.lambda3, args.lambda4)) == (model, region_size, lambdas)
    expected = flags[1] if flags else DEFAULT_PRESET
    assert args.preset == expected and args.selector == PRESETS[expected].selector


@pytest.mark.parametrize("key", ["preset", "config"])
def test_config_cannot_choose_the_preset_or_another_config(tmp_path, monkeypatch, capsys, key):
    """``preset:`` in a --config file would be read after the preset's defaults were taken: refused, not ignored."""
    from submodular_attribution import cli, driver

    monkeypatch.setattr(driver, "run", lambda args: pytest.fail("ran with a config key that cannot apply"))
    config = tmp_path / "c.yaml"
    config.write_text(f"{key}: smdl_explanation_cub_superpixel\n")
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--config", str(config), "--save-dir", str(tmp_path)])
    assert exit_info.value.code == 2
    assert f"unknown keys {key}" in capsys.readouterr().err
