"""The SMDL entry module: result layout, resume, bad samples logged, --help."""

import json
import subprocess
import sys

import numpy as np
import pytest

from submodular_attribution.driver import main

PRESET = "smdl_explanation_imagenet_superpixel"


def snapshot(root):
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def photo_dir(tmp_path, coffee):
    from PIL import Image

    root = tmp_path / "images"
    (root / "sub dir").mkdir(parents=True)
    Image.fromarray(coffee).save(root / "sub dir" / "my coffee.jpg")
    (root / "broken.png").write_bytes(b"nope")
    (tmp_path / "list.txt").write_text("sub dir/my coffee.jpg 967\nbroken.png 1\nmissing.png 2\n")
    return tmp_path


def test_run_writes_results_logs_bad_samples_and_resumes(photo_dir):
    argv = ["--Datasets", str(photo_dir / "images"), "--eval-list", str(photo_dir / "list.txt"),
            "--superpixel-algorithm", "grid", "--grid-size", "2", "--save-dir", str(photo_dir / "out"), "--no-progress"]
    run_dir, report = main(PRESET, argv)
    assert run_dir.name == "grid2x2-0.0-0.05-1.0-1.0"
    assert (report.done, report.failed) == (1, 2)
    data = json.loads((run_dir / "json/967/sub dir/my coffee.json").read_text())
    for key in ("consistency_score", "collaboration_score", "confidence_score", "effectiveness_score", "smdl_score",
                "lambda1", "lambda2", "lambda3", "lambda4", "sub-k", "org_score", "baseline_score", "ranking",
                "region_area", "target", "image", "model", "selector", "forward_passes", "seconds", "version"):
        assert key in data, key
    assert data["sub-k"] == 4 and sorted(data["ranking"]) == [0, 1, 2, 3]
    assert data["forward_passes"] == 4 + 1 + 4 * 5
    rank_map = np.load(run_dir / "npy/967/sub dir/my coffee.npy")
    assert rank_map.dtype == np.int16 and rank_map.shape == (224, 224)
    errors = [json.loads(line) for line in (run_dir / "errors.jsonl").read_text().splitlines()]
    assert {e["sample"] for e in errors} == {"broken.png", "missing.png"}

    before = snapshot(run_dir)
    errors_before = (run_dir / "errors.jsonl").read_text()
    _, again = main(PRESET, argv + ["--end", "1"])  # only the done sample: nothing to do
    assert again.done == 0 and again.skipped == 1
    assert snapshot(run_dir) == before, "the second run writes nothing"
    assert (run_dir / "errors.jsonl").read_text() == errors_before


def test_region_images_layout(photo_dir):
    argv = ["--Datasets", str(photo_dir / "images"), "--eval-list", str(photo_dir / "list.txt"), "--end", "1",
            "--superpixel-algorithm", "grid", "--grid-size", "2", "--lambda2", "0", "--save-dir", str(photo_dir / "o2"),
            "--save-region-images", "--no-progress"]
    run_dir, _ = main(PRESET, argv)
    stack = np.load(run_dir / "npy/967/sub dir/my coffee.npy")
    assert stack.shape == (4, 224, 224, 3) and stack.dtype == np.uint8
    assert (stack.astype(int).sum(axis=0) <= 255).all()
    from evals.eval_AUC_faithfulness import evaluate_explanation_dir

    summary = evaluate_explanation_dir(run_dir)
    assert summary["num_images"] == 1


def test_bad_flag_is_a_one_line_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "submodular_attribution.smdl_explanation_imagenet_superpixel",
                           "--eval-list", str(tmp_path / "none.txt")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "--eval-list" in proc.stderr


ENTRY_MAINS = [
    ("submodular_attribution.cli", lambda m: m.main(["--help"])),
    ("submodular_attribution.driver", lambda m: m.main(PRESET, ["--help"])),
    ("evals.eval_AUC_faithfulness", lambda m: m.main(["--help"])),
    ("evals.eval_highest_confidence", lambda m: m.main(["--help"])),
    ("visualization.demo", lambda m: m.main(["--help"])),
    ("scripts.demo", lambda m: m.main(["--help"])),
    ("scripts.shard", lambda m: m.main(["--help"])),
    ("scripts.benchmark_smdl", lambda m: m.main(["--help"])),
    ("scripts.benchmark_selection", lambda m: m.main(["--help"])),
    ("submodular_attribution.lima_explanation_imagenet_superpixel", lambda m: main(m.__name__.rsplit(".", 1)[1], ["--help"])),
]


@pytest.mark.parametrize("module_name,call", ENTRY_MAINS, ids=[m for m, _ in ENTRY_MAINS])
def test_help_explains_every_flag(module_name, call, monkeypatch):
    """Every option of every entry parser has a non-empty help text."""
    import argparse
    import importlib

    seen = []
    original = argparse.ArgumentParser.parse_known_args  # parse_args calls it too

    def capture(self, *args, **kwargs):
        seen.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_known_args", capture)
    with pytest.raises(SystemExit) as exit_info:
        call(importlib.import_module(module_name))
    assert exit_info.value.code == 0 and seen
    for action in seen[-1]._actions:
        assert action.help, f"{module_name}: {action.option_strings} has no help"


def test_entry_module_help_runs(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "submodular_attribution.smdl_explanation_imagenet_superpixel", "--help"],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "--lambda4" in proc.stdout and "collaboration" in proc.stdout


def test_config_file_sets_defaults_and_flags_win(tmp_path):
    from submodular_attribution.driver import apply_config, build_parser

    cfg = tmp_path / "c.yaml"
    cfg.write_text("lambda2: 0.5\nsuperpixel-algorithm: grid\ngrid-size: 3\n")
    parser = build_parser(PRESET)
    apply_config(parser, ["--config", str(cfg), "--lambda2", "0.25"])
    args = parser.parse_args(["--config", str(cfg), "--lambda2", "0.25"])
    assert (args.lambda2, args.superpixel_algorithm, args.grid_size) == (0.25, "grid", 3)
    cfg.write_text("lamda2: 1\n")
    from common.errors import ToolkitError

    with pytest.raises(ToolkitError, match="lamda2"):
        apply_config(build_parser(PRESET), ["--config", str(cfg)])


@pytest.mark.parametrize("config,folder", [
    ("imagenet_efficientnet_lite0_slico.yaml", "slico-0.0-0.05-1.0-1.0"),
    ("imagenet_resnet50_seeds.yaml", "seeds-0.0-0.05-1.0-1.0"),
    ("lima_imagenet_efficientnet_lite0_slico.yaml", "slico-0.01-0.0-20.0-5.0-bidirectional-pending-samples-12"),
])
def test_shipped_configs_are_valid_and_reach_every_setting(config, folder, tmp_path):
    """Each shipped config passes the driver's checks, every one of its keys arrives in the parsed flags with
    its value (a key the driver would drop or rename fails here), and the run folder is the one its comment names."""
    from pathlib import Path

    import yaml

    from submodular_attribution.driver import apply_config, build_parser, run_folder_name, validate_args

    path = Path(__file__).parent.parent / "configs" / config
    argv = ["--config", str(path), "--save-dir", str(tmp_path)]
    parser = build_parser(PRESET)
    apply_config(parser, argv)
    args = parser.parse_args(argv)
    validate_args(parser, args)
    for key, value in yaml.safe_load(path.read_text()).items():
        if key != "save-dir":
            assert getattr(args, key.replace("-", "_")) == value, key
    assert run_folder_name(args) == folder


def test_help_lists_the_names_and_shows_each_default_once():
    import contextlib
    import io

    from submodular_attribution.selection import SELECTORS

    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        main(PRESET, ["--help"])
    text = " ".join(out.getvalue().split())
    assert "{" + ",".join(sorted(SELECTORS)) + "}" in text  # --selector lists its names
    assert "(default: None)" not in text
    from submodular_attribution.driver_flags import HelpFormatter, build_parser

    formatter = HelpFormatter("prog")
    for action in build_parser(PRESET)._actions:
        assert formatter._get_help_string(action).replace("%(default)s", "").count("default") <= 1, action.option_strings
    assert "default: 0 for lazy, stochastic, window; 245 for coarse, onesided, surrogate" in text


@pytest.mark.parametrize("text,match", [
    ("superpixel-algorithm: watershed\n", "--superpixel-algorithm watershed"),
    ("region-size: -3\n", "--region-size -3"),
    ("model: resnet5O\n", "--model resnet5O"),
    ("lambda1: [1\n", "invalid YAML"),
])
def test_bad_config_values_are_one_line_errors(tmp_path, text, match):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    proc = subprocess.run([sys.executable, "-m", "submodular_attribution.smdl_explanation_imagenet_superpixel",
                           "--config", str(cfg)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and match in proc.stderr, proc.stderr


def test_lambdas_reach_the_json_in_order_and_define_the_score(photo_dir):
    argv = ["--Datasets", str(photo_dir / "images"), "--eval-list", str(photo_dir / "list.txt"), "--end", "1",
            "--superpixel-algorithm", "grid", "--grid-size", "2", "--save-dir", str(photo_dir / "lam"), "--no-progress",
            "--lambda1", "0.1", "--lambda2", "0.2", "--lambda3", "0.3", "--lambda4", "0.4"]
    run_dir, _ = main(PRESET, argv)
    assert run_dir.name == "grid2x2-0.1-0.2-0.3-0.4"
    data = json.loads((run_dir / "json/967/sub dir/my coffee.json").read_text())
    assert [data[f"lambda{i}"] for i in range(1, 5)] == [0.1, 0.2, 0.3, 0.4]
    expected = (0.1 * np.array(data["confidence_score"]) + 0.2 * np.array(data["effectiveness_score"])
                + 0.3 * np.array(data["consistency_score"]) + 0.4 * np.array(data["collaboration_score"]))
    np.testing.assert_allclose(data["smdl_score"], expected, atol=1e-6)
    assert data["division_params"] == {"grid_size": 2}


def test_killed_run_redoes_a_sample_without_json_and_ignores_temp_files(photo_dir):
    argv = ["--Datasets", str(photo_dir / "images"), "--eval-list", str(photo_dir / "list.txt"), "--end", "1",
            "--superpixel-algorithm", "grid", "--grid-size", "2", "--lambda2", "0", "--save-dir", str(photo_dir / "kill"),
            "--no-progress"]
    run_dir, _ = main(PRESET, argv)
    json_path = run_dir / "json/967/sub dir/my coffee.json"
    json_path.unlink()  # as if the process died between the npy and the json
    (json_path.parent / ".my coffee.json.abc.tmp").write_text("{half")
    _, report = main(PRESET, argv)
    assert report.done == 1 and json.loads(json_path.read_text())["sub-k"] == 4
