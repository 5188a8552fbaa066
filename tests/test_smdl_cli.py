"""The SMDL entry module: result layout, resume, bad samples logged, --help."""

import json
import subprocess
import sys

import numpy as np
import pytest

from submodular_attribution.cli import main
from submodular_attribution.smdl_explanation_imagenet_superpixel import PRESET


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


def test_help_explains_every_flag():
    proc = subprocess.run([sys.executable, "-m", "submodular_attribution.smdl_explanation_imagenet_superpixel", "--help"],
                          capture_output=True, text=True)
    assert proc.returncode == 0
    for flag in ("--Datasets", "--eval-list", "--superpixel-algorithm", "--region-size", "--lambda1", "--lambda4",
                 "--begin", "--end", "--save-dir", "--model", "--weights", "--device", "--batch-size", "--save-region-images"):
        assert flag in proc.stdout, flag


def test_config_file_sets_defaults_and_flags_win(tmp_path):
    from submodular_attribution.cli import apply_config, build_parser

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


@pytest.mark.parametrize("config", ["imagenet_efficientnet_lite0_slico.yaml", "imagenet_resnet50_seeds.yaml"])
def test_shipped_configs_are_valid(config):
    from pathlib import Path

    from submodular_attribution.cli import apply_config, build_parser

    apply_config(build_parser(PRESET), ["--config", str(Path(__file__).parent.parent / "configs" / config)])


def test_multigpu_script_splits_the_list_and_covers_every_sample(tmp_path, coffee):
    import os
    from pathlib import Path

    from PIL import Image

    for name in ("a", "b", "c"):
        Image.fromarray(coffee).save(tmp_path / f"{name}.jpg")
    (tmp_path / "list.txt").write_text("a.jpg 967\nb.jpg 967\nc.jpg 967")
    root = Path(__file__).parent.parent
    env = dict(os.environ, GPUS="cpu cpu", EVAL_LIST=str(tmp_path / "list.txt"), DATASETS=str(tmp_path),
               LOG_DIR=str(tmp_path / "logs"), PYTHON=sys.executable)
    proc = subprocess.run(["bash", str(root / "scripts/smdl_multigpu.sh"), "--superpixel-algorithm", "grid", "--grid-size", "2",
                           "--lambda2", "0", "--save-dir", str(tmp_path / "out")], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "lines 0..2" in proc.stdout and "lines 2..-1" in proc.stdout
    done = sorted(p.name for p in (tmp_path / "out").rglob("*.json") if p.parent.name == "967")
    assert done == ["a.json", "b.json", "c.json"]
