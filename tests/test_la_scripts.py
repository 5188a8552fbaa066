"""LA's scripts end to end: generate_pt, generate_attributions (names, resume), eval_la, para_explore.sh, figures."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import local_attribution
from evals import eval_la
from local_attribution import generate_attributions as ga
from local_attribution import generate_pt
from models import BlackBox
from tests.conftest import toy_classifier
from visualization import la_figures

ROOT = Path(__file__).resolve().parents[1]


def _image_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for stem in ("10", "2", "0", "1"):
        Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(folder / f"{stem}.png")
    Image.fromarray(rng.integers(0, 256, (16, 16), dtype=np.uint8), mode="L").save(folder / "grey.png")
    (folder / "notes.txt").write_text("not an image")
    return folder


@pytest.fixture
def toy_data(tmp_path) -> Path:
    out = tmp_path / "data"
    generate_pt.main(["--img_path", str(_image_folder(tmp_path)), "--size", "16", "--out", str(out)])
    return out


@pytest.fixture
def toy_model(monkeypatch):
    """generate_attributions and eval_la get the 4-class toy classifier (16x16) instead of a real network."""
    monkeypatch.setattr(ga, "load_classifier", lambda name, weights=None: toy_classifier(size=16))
    monkeypatch.setattr(eval_la, "load_model", lambda name, weights=None, device="cpu", batch_size=32:
                        BlackBox(toy_classifier(size=16), device=device, batch_size=batch_size))


# ------------------------------------------------------------------ generate_pt

def test_generate_pt_folder_natural_order_grey_png_and_unlabelled(tmp_path, toy_data):
    images = torch.load(toy_data / "img_batch.pt")
    labels = torch.load(toy_data / "label_batch.pt")
    names = json.loads((toy_data / "names.json").read_text())["names"]
    assert names == ["0.png", "1.png", "2.png", "10.png", "grey.png"]
    assert images.dtype == torch.float32 and images.shape == (5, 3, 16, 16)
    assert 0.0 <= float(images.min()) and float(images.max()) <= 1.0 and float(images.max()) > 0.5
    assert torch.equal(images[4, 0], images[4, 1]) and torch.equal(images[4, 1], images[4, 2])  # grey -> RGB
    assert labels.dtype == torch.int64 and labels.tolist() == [-1] * 5


def test_generate_pt_labels_file(tmp_path):
    folder = _image_folder(tmp_path)
    (tmp_path / "labels.txt").write_text("3\n1\n4\n1\n5\n")
    generate_pt.main(["--img_path", str(folder), "--labels", str(tmp_path / "labels.txt"), "--size", "8",
                      "--out", str(tmp_path / "d")])
    assert torch.load(tmp_path / "d" / "label_batch.pt").tolist() == [3, 1, 4, 1, 5]


def test_generate_pt_demo_list_with_end(tmp_path):
    generate_pt.main(["--eval-list", "demo", "--end", "2", "--out", str(tmp_path / "d")])
    images = torch.load(tmp_path / "d" / "img_batch.pt")
    assert images.shape == (2, 3, 224, 224) and images.dtype == torch.float32
    assert torch.load(tmp_path / "d" / "label_batch.pt").tolist() == [967, 285]  # espresso, Egyptian cat


@pytest.mark.parametrize("make", ["missing", "empty"])
def test_generate_pt_one_line_errors(tmp_path, capsys, make):
    folder = tmp_path / "imgs"
    if make == "empty":
        folder.mkdir()
    with pytest.raises(SystemExit) as info:
        generate_pt.main(["--img_path", str(folder), "--out", str(tmp_path / "d")])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --img_path") and "\n" not in err
    assert not (tmp_path / "d").exists()


# ------------------------------------------------------------------ generate_attributions

def test_output_names_follow_the_original():
    assert ga.attribution_path("attributions", "resnet50", "la", 10, 20, 30).as_posix() == \
        "attributions/resnet50_la_spatial-range-10_max-iter-20_sampling-times-30_attributions.npy"
    assert ga.attribution_path("attributions", "vgg16", "fast_ig").as_posix() == \
        "attributions/vgg16_fast_ig_attributions.npy"


def test_default_batch_sizes_are_the_originals():
    sizes = {m: (ga.default_batch_size(local_attribution.get_method(m), "resnet50"),
                 ga.default_batch_size(local_attribution.get_method(m), "maxvit_t")) for m in ("la", "ig", "eg", "big")}
    assert sizes == {"la": (64, 32), "ig": (4, 2), "eg": (4, 4), "big": (1, 1)}


def test_help_documents_every_flag():
    text = ga.build_parser().format_help()  # one style (hyphens); the original underscore spellings are aliases
    for flag in ("--model", "--method", "--spatial-range", "--max-iter", "--sampling-times", "--save-dir",
                 "--data", "--weights", "--device", "--batch-size", "--seed", "--target"):
        assert flag in text


def test_saliency_with_real_lite0_end_to_end_then_skip(tmp_path, capsys):
    data, prefix = tmp_path / "data", tmp_path / "attributions"
    generate_pt.main(["--eval-list", "demo", "--end", "2", "--out", str(data)])
    argv = ["--model", "efficientnet_lite0", "--attr_method", "sm", "--prefix", str(prefix), "--data", str(data),
            "--no-progress"]
    out = ga.main(argv)
    assert out == prefix / "efficientnet_lite0_sm_attributions.npy"
    maps = np.load(out)
    assert maps.shape == (2, 3, 224, 224) and maps.dtype == np.float32
    assert (maps >= 0).all() and (maps.reshape(2, -1).max(1) > 0).all()  # |grad p_y|, not all zero
    assert not ga.partial_dir(out).exists()
    stamp = out.stat().st_mtime_ns
    capsys.readouterr()
    ga.main(argv)
    assert "nothing to do" in capsys.readouterr().out and out.stat().st_mtime_ns == stamp


def test_la_file_name_and_shape_with_toy_model(toy_data, toy_model, tmp_path):
    out = ga.main(["--attr_method", "la", "--spatial_range", "10", "--max_iter", "2", "--sampling_times", "3",
                   "--prefix", str(tmp_path / "a"), "--data", str(toy_data), "--no-progress"])
    assert out.name == "efficientnet_lite0_la_spatial-range-10_max-iter-2_sampling-times-3_attributions.npy"
    maps = np.load(out)
    assert maps.shape == (5, 3, 16, 16) and np.isfinite(maps).all() and np.abs(maps).max() > 0


def test_expected_gradients_never_uses_the_explained_image_as_reference(toy_data, toy_model, tmp_path):
    images = torch.arange(5.0).view(5, 1, 1, 1).expand(5, 3, 2, 2)
    assert ga.outside_batch(images, 1, 3)[:, 0, 0, 0].tolist() == [0.0, 3.0, 4.0]
    assert ga.outside_batch(images, 0, 5) is None
    out = ga.main(["--attr_method", "eg", "--prefix", str(tmp_path / "a"), "--data", str(toy_data), "--no-progress"])
    maps = np.load(out)
    assert (np.abs(maps).reshape(5, -1).max(axis=1) > 0).all()  # a self-reference would give an all-zero map


class _Interrupting:
    """Wraps a real method; raises KeyboardInterrupt on call number ``stop_at`` (1-based), counts calls."""

    def __init__(self, method, stop_at: int | None) -> None:
        self.method, self.stop_at, self.calls = method, stop_at, 0

    def __getattr__(self, name):
        return getattr(self.method, name)

    def attribute(self, *args, **kwargs):
        self.calls += 1
        if self.stop_at is not None and self.calls == self.stop_at:
            raise KeyboardInterrupt
        return self.method.attribute(*args, **kwargs)


def test_resume_after_kill_continues_and_gives_the_same_bytes(toy_data, toy_model, tmp_path, monkeypatch):
    real_get = local_attribution.get_method
    wrappers = []

    def get_method(name, **hp):
        wrappers.append(_Interrupting(real_get(name, **hp), stop_at=3 if len(wrappers) == 0 else None))
        return wrappers[-1]

    monkeypatch.setattr(local_attribution, "get_method", get_method)
    argv = ["--attr_method", "sg", "--batch-size", "2", "--data", str(toy_data), "--no-progress"]
    with pytest.raises(KeyboardInterrupt):
        ga.main([*argv, "--prefix", str(tmp_path / "resumed")])
    out = tmp_path / "resumed" / "efficientnet_lite0_sg_attributions.npy"
    partial = ga.partial_dir(out)
    assert not out.exists()
    assert sorted(p.name for p in partial.glob("*.npy")) == ["000000-000002.npy", "000002-000004.npy"]
    ga.main([*argv, "--prefix", str(tmp_path / "resumed")])
    assert wrappers[1].calls == 1  # only the last batch (image 4) was computed again
    assert not partial.exists()
    ga.main([*argv, "--prefix", str(tmp_path / "straight")])
    straight = np.load(tmp_path / "straight" / "efficientnet_lite0_sg_attributions.npy")
    np.testing.assert_array_equal(np.load(out), straight)


def test_partial_run_with_other_settings_is_refused(toy_data, toy_model, tmp_path, capsys):
    out = ga.attribution_path(tmp_path / "a", "efficientnet_lite0", "sg")
    ga.partial_dir(out).mkdir(parents=True)
    (ga.partial_dir(out) / "meta.json").write_text(json.dumps({"seed": 1}))
    with pytest.raises(SystemExit):
        ga.main(["--attr_method", "sg", "--prefix", str(tmp_path / "a"), "--data", str(toy_data), "--no-progress"])
    assert "partial run with other settings" in capsys.readouterr().err


def test_missing_data_is_a_one_line_error(tmp_path, capsys):
    with pytest.raises(SystemExit):
        ga.main(["--attr_method", "sm", "--prefix", str(tmp_path), "--data", str(tmp_path / "nope")])
    assert "generate_pt" in capsys.readouterr().err


# ------------------------------------------------------------------ eval_la

def test_eval_appends_one_row_and_reuses_scores(toy_data, toy_model, tmp_path):
    prefix = tmp_path / "a"
    ga.main(["--attr_method", "sm", "--prefix", str(prefix), "--data", str(toy_data), "--no-progress"])
    argv = ["--attr_method", "sm", "--attr_prefix", str(prefix), "--prefix", str(tmp_path / "s"), "--data",
            str(toy_data), "--csv_path", str(tmp_path / "results.csv"), "--batch-size", "7", "--no-progress"]
    row = eval_la.main(argv)
    eval_la.main(argv)
    with open(tmp_path / "results.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows == [eval_la.CSV_HEADER, [row[c] for c in eval_la.CSV_HEADER]]
    assert rows[1][:5] == ["efficientnet_lite0", "sm", "-", "-", "-"]
    with np.load(tmp_path / "s" / "efficientnet_lite0_sm_scores.npz") as scores:
        # 16x16 images: ceil(256 / 224) = 2 steps -> 3 points per curve
        assert scores["ins_curves"].shape == (5, 3) and scores["del_curve"].shape == (3,)
        assert float(scores["ins"]) == pytest.approx(float(row["insertion"]), abs=1e-6)


def test_eval_missing_attributions_names_the_generate_command(toy_data, tmp_path, capsys):
    with pytest.raises(SystemExit):
        eval_la.main(["--attr_method", "la", "--samples_number", "10", "--attr_prefix", str(tmp_path),
                      "--prefix", str(tmp_path / "s"), "--data", str(toy_data)])
    err = capsys.readouterr().err
    assert "sampling-times-10" in err and "--sampling-times 10" in err


# ------------------------------------------------------------------ para_explore.sh

def _dry_run(tmp_path, **env) -> list[str]:
    full = {**os.environ, "DRY_RUN": "1", "DATA": str(tmp_path), "LOG_DIR": str(tmp_path / "logs"), **env}
    (tmp_path / "img_batch.pt").write_bytes(b"")  # data present: no generate_pt step
    result = subprocess.run(["bash", str(ROOT / "scripts" / "para_explore.sh")], env=full, capture_output=True,
                            text=True, check=True)
    return result.stdout.strip().splitlines()


def test_para_explore_passes_every_la_parameter_to_the_evaluation(tmp_path):
    lines = _dry_run(tmp_path)
    gens = [line for line in lines if "generate_attributions" in line]
    evals = [line for line in lines if "evals.eval_la" in line]
    assert len(gens) == len(evals) == 11 + 27
    configs = set()
    for gen, ev in zip(gens, evals):
        method = re.search(r"--attr_method (\S+)", gen).group(1)
        assert re.search(r"--attr_method (\S+)", ev).group(1) == method
        if method == "la":
            s, k, t = re.search(r"--spatial_range (\d+) --max_iter (\d+) --sampling_times (\d+)", gen).groups()
            assert f"--spatial_range {s} --max_iter {k} --samples_number {t}" in ev
            assert "results_la.csv" in ev
            configs.add((s, k, t))
        else:
            assert "--spatial_range" not in ev and "results_baseline.csv" in ev
    assert len(configs) == 27


def test_para_explore_splits_configs_round_robin_over_gpus(tmp_path):
    lines = _dry_run(tmp_path, GPUS="0 1", BASELINES="sm ig")
    gens = [line for line in lines if "generate_attributions" in line]
    assert len(gens) == 29
    per_gpu = {gpu: [g for g in gens if g.startswith(f"CUDA_VISIBLE_DEVICES={gpu} ")] for gpu in "01"}
    assert len(per_gpu["0"]) == 15 and len(per_gpu["1"]) == 14
    assert all("--device cuda" in g for g in gens)
    assert len(set(gens)) == 29


# ------------------------------------------------------------------ figures

def test_method_panel_draws_all_twelve_methods(tmp_path):
    rng = np.random.default_rng(0)
    maps = {m: rng.standard_normal((3, 32, 32)).astype(np.float32) for m in reversed(la_figures.PANEL_ORDER)}
    assert la_figures.ordered_methods(list(maps)) == list(la_figures.PANEL_ORDER)
    out = la_figures.method_panel(rng.random((3, 32, 32)), maps, tmp_path / "fig" / "panel.png", panel_size=1.0,
                                  dpi=50)
    width, height = Image.open(out).size
    assert width > 8 * height  # one row: photo + 12 panels (13 x 1.0 in by 1.3 in)
    grey = la_figures.grey_map(maps["la"])
    assert grey.shape == (32, 32) and grey.min() == 0.0 and grey.max() == 1.0
    assert np.mean(grey == 0) == pytest.approx(0.8, abs=0.01)  # everything below the 80th percentile is black


def test_figure_cli_reads_saved_maps(toy_data, toy_model, tmp_path, capsys):
    prefix = tmp_path / "a"
    for method in ("sm", "ig"):
        ga.main(["--attr_method", method, "--prefix", str(prefix), "--data", str(toy_data), "--no-progress"])
    out = la_figures.main(["--attributions-dir", str(prefix), "--index", "0", "4", "--data", str(toy_data),
                           "--out", str(tmp_path / "f.png"), "--style", "overlay"])
    assert out.is_file() and Image.open(out).size[0] > 0
    assert "no maps for la, agi" in capsys.readouterr().out


@pytest.mark.parametrize("module", ["visualization.la_figures", "scripts.benchmark_la", "evals.eval_la"])
def test_la_parameter_flags_take_both_spellings(module):
    """The hyphen spellings generate_attributions' --help shows (were refused by la_figures and benchmark_la)
    and the original underscore ones parse to the same values."""
    import importlib

    parse = importlib.import_module(module).build_parser().parse_args
    third = "--samples-number" if module == "evals.eval_la" else "--sampling-times"
    hyphen = parse(["--spatial-range", "5", "--max-iter", "6", third, "7"])
    underscore = parse(["--spatial_range", "5", "--max_iter", "6", third.replace("-", "_").replace("__", "--"), "7"])
    assert vars(hyphen) == vars(underscore)
    assert (hyphen.spatial_range, hyphen.max_iter) == (5, 6)


@pytest.mark.parametrize("module, old, dest", [
    ("evals.report", "--out", "out"), ("scripts.benchmark_la", "--out-dir", "out_dir"),
    ("evals.eval_la", "--prefix", "prefix"), ("evals.eval_la", "--attr_prefix", "attr_prefix"),
    ("visualization.la_figures", "--attr-prefix", "attributions_dir"),
])
def test_one_output_folder_flag_old_spellings_kept(module, old, dest, capsys):
    """Output folders are ``--save-dir`` (as the SMDL and baseline generators), input map folders
    ``--attributions-dir``; the old spellings still parse and are not shown in --help."""
    import importlib

    parser = importlib.import_module(module).build_parser()
    canonical = "--attributions-dir" if "attr" in old else "--save-dir"
    assert getattr(parser.parse_args([old, "somewhere"]), dest) == "somewhere"
    assert getattr(parser.parse_args([canonical, "somewhere"]), dest) == "somewhere"
    with pytest.raises(SystemExit):
        parser.parse_args(["--help"])
    shown = capsys.readouterr().out
    assert canonical in shown and f"{old} " not in shown
