"""The comparison report end to end on a toy model, the insertion animation and the fixed SMDL figure."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image

from common.errors import ToolkitError
from common.figures import animate_insertion, frame_indices
from evals import report
from evals.causal import insertion_images
from models.base import BlackBox
from tests.conftest import toy_classifier
from tests.test_evals_dense import reference_la, reference_smdl_baseline
from visualization.demo import class_line, outline_prefix

REPORT_ARGS = ["--methods", "smdl", "la", "sm",
               "--param", "smdl.division=grid", "--param", "smdl.grid_size=3",
               "--param", "la.max_iter=2", "--param", "la.sampling_times=2",
               "--presets", "rise2018", "smdl_baseline", "la", "--mufidelity", "smdl_cub", "--budgets", "0.25", "1.0",
               "--no-progress"]


def toy_box() -> BlackBox:
    return BlackBox(toy_classifier(num_classes=4, size=32, seed=1), batch_size=16)


def toy_eval_list(folder) -> str:
    """Two demo photos saved as files, labelled with toy classes 1 and 2."""
    from common.demo_images import load_demo_photo

    for name in ("coffee", "chelsea"):
        Image.fromarray(load_demo_photo(name)[::8, ::8]).save(folder / f"{name}.png")
    (folder / "list.txt").write_text("coffee.png 1\nchelsea.png 2\n")
    return str(folder / "list.txt")


def test_report_end_to_end_and_resume(tmp_path):
    out = tmp_path / "rep"
    baselines = ["occlusion"] if "occlusion" in report.baseline_registry() else []
    methods = ["smdl", "la", "sm"] + baselines
    flags = REPORT_ARGS[:1] + methods + REPORT_ARGS[4:] + ["--eval-list", toy_eval_list(tmp_path), "--Datasets", str(tmp_path), "--out", str(out)]
    args = report.build_parser().parse_args(flags + ["--animate", "--max-frames", "3"])
    box = toy_box()
    result = report.run_report(args, blackbox=box)
    rows = {r["method"]: r for r in result["rows"]}
    assert set(rows) == set(methods)
    for row in rows.values():
        assert row["photos"] == 2
        for preset in ("rise2018", "smdl_baseline", "la"):
            assert 0.0 <= row[f"insertion_{preset}"] <= 1.0
        assert -1.0 <= row["mufidelity_smdl_cub"] <= 1.0
    with open(out / "report.csv", newline="") as handle:
        assert [r["method"] for r in csv.DictReader(handle)] == methods
    markdown = (out / "report.md").read_text()
    assert "rise2018" in markdown and "insertion_rise2018 ↑" in markdown and "deletion_la ↓" in markdown
    for figure in ("comparison.png", "maps.png", "insertion_smdl_coffee.gif"):
        assert (out / figure).stat().st_size > 0
    assert np.load(out / "maps" / "la" / "coffee.npy").shape == (3, 32, 32)
    assert np.load(out / "maps" / "smdl" / "coffee.npy").shape == (32, 32)
    # resume: nothing recomputed, the same table
    forwards = box.forward_count
    again = report.run_report(report.build_parser().parse_args(flags), blackbox=box)
    assert box.forward_count == forwards
    assert again["rows"] == result["rows"]


def test_report_bad_flags_fail_before_the_model(tmp_path):
    parse = report.build_parser().parse_args
    with pytest.raises(SystemExit) as exc:  # refused by the flag's own check (a usage error)
        parse(["--methods", "nope", "--out", str(tmp_path)])
    assert exc.value.code == 2
    with pytest.raises(ToolkitError, match="--param"):
        report.run_report(parse(["--methods", "sm", "--param", "la.max_iter=2", "--out", str(tmp_path)]))
    with pytest.raises(ToolkitError, match="--photos"):
        report.run_report(parse(["--methods", "sm", "--photos", "nope", "--out", str(tmp_path)]))


def test_animation_frame_count(tmp_path):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)
    saliency = rng.random((24, 24)).astype(np.float32)
    x = np.linspace(0, 1, 6)
    curve = np.linspace(0.1, 0.9, 6)
    frames = lambda f: insertion_images(image, saliency, f)  # noqa: E731
    out = animate_insertion(frames, x, curve, tmp_path / "a.gif", max_frames=4)
    assert Image.open(out).n_frames == len(frame_indices(6, 4)) == 4
    out = animate_insertion(frames, x, curve, tmp_path / "b.gif", max_frames=50)
    assert Image.open(out).n_frames == 6
    # the frames: black, then the top fraction of pixels by the map copied from the image
    shown = insertion_images(image, saliency, np.array([0.0, 0.25, 1.0]))
    assert (shown[0] == 0).all() and (shown[2] == image).all()
    top = saliency >= np.sort(saliency.ravel())[::-1][round(0.25 * 576) - 1]
    assert (shown[1][top] == image[top]).all() and (shown[1][~top] == 0).all()


def test_outline_skipped_when_prefix_covers_the_image():
    image = np.full((20, 20, 3), 200, np.uint8)
    small = np.zeros((20, 20), bool)
    small[5:10, 5:10] = True
    assert (outline_prefix(image, small) == (255, 0, 0)).all(axis=-1).any()
    almost = np.ones((20, 20), bool)
    almost[0, :5] = False
    assert not (outline_prefix(image, almost) == (255, 0, 0)).all(axis=-1).any()


def test_class_line_names_top1_when_it_differs():
    data = {"target": 3, "target_name": "cat", "org_score": 0.2, "predicted": 5, "predicted_name": "dog",
            "predicted_score": 0.7}
    assert "top-1: dog (class 5, p = 0.700)" in class_line(data)
    assert "the label given in the eval list" in class_line(data)
    assert "top-1: dog" not in class_line({**data, "predicted": 3})
    assert "also the model's top-1" in class_line({**data, "predicted": 3})
    assert "no label given: the model's top-1" in class_line({**data, "predicted": 3}, labelled=False)


def _smdl_result(folder, stem, consistency, label="1"):
    """A saved 4-region SMDL result on a 2:1 photo: rank map of 4 vertical bands, its json."""
    import json

    from common.demo_images import load_demo_photo

    photo = np.ascontiguousarray(load_demo_photo("coffee")[:200, :400])
    Image.fromarray(photo).save(folder / f"{stem}.png")
    rank_map = np.repeat(np.repeat(np.arange(4, dtype=np.int16)[None], 32, axis=0), 8, axis=1)
    (folder / "json" / label).mkdir(parents=True, exist_ok=True)
    (folder / "npy" / label).mkdir(parents=True, exist_ok=True)
    np.save(folder / "npy" / label / f"{stem}.npy", rank_map)
    data = {"consistency_score": consistency, "collaboration_score": [0.3, 0.6, 0.8, 0.9],
            "smdl_score": consistency, "smdl_score_max_index": int(np.argmax(consistency)), "target": 1,
            "target_name": "cat", "predicted": 1, "org_score": consistency[-1], "image": str(folder / f"{stem}.png")}
    (folder / "json" / label / f"{stem}.json").write_text(json.dumps(data))
    return folder / "json" / label / f"{stem}.json", folder / "npy" / label / f"{stem}.npy"


@pytest.mark.parametrize("best_is_whole", [False, True])
def test_smdl_figure_panels(tmp_path, best_is_whole, monkeypatch):
    """The photo keeps its 2:1 aspect ratio; the best-prefix panel appears only when it is smaller than the
    whole image; the curve legend lies below the axes (covers no data)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from visualization import smdl_figure

    consistency = [0.5, 0.95, 0.8, 0.9] if not best_is_whole else [0.2, 0.5, 0.85, 0.9]
    json_path, npy_path = _smdl_result(tmp_path, "photo", consistency)
    figures = []
    monkeypatch.setattr(plt, "close", lambda fig: figures.append(fig))
    out = smdl_figure.draw_explanation_figure(json_path, npy_path, tmp_path / "fig.png")
    assert out.stat().st_size > 0
    fig = figures[-1]
    image_axes = [ax for ax in fig.axes if ax.images]
    titles = [ax.get_title() for ax in image_axes]
    assert titles[0].startswith("photo (400 x 200 px)")
    extent = image_axes[0].images[0].get_extent()
    assert abs((extent[1] - extent[0]) / (extent[2] - extent[3]) - 2.0) < 0.01  # drawn at 2:1, not squashed
    assert "smallest prefix" in titles[1] and ("3 of 4" if best_is_whole else "2 of 4") in titles[1]
    assert any(t.startswith("best prefix") for t in titles) is (not best_is_whole)
    curves = fig.axes[len(image_axes)]
    legend = curves.get_legend()
    renderer = fig.canvas.get_renderer()
    assert legend.get_window_extent(renderer).y1 <= curves.get_window_extent(renderer).y0
    texts = " ".join(t.get_text() for t in legend.get_texts())
    assert ("= the whole image" in texts) is best_is_whole


@pytest.mark.parametrize("module", ["evals.report", "visualization.insertion_animation"])
def test_entry_module_help(module, capsys):
    import importlib

    with pytest.raises(SystemExit) as exc:
        importlib.import_module(module).main(["--help"])
    assert exc.value.code == 0
    assert ("--save-dir" if module == "evals.report" else "--out") in capsys.readouterr().out


def test_eval_maps_folder_matches_reference(tmp_path, monkeypatch):
    """The folder evaluator reads float, 3-channel and SMDL rank-map files and scores them as LA's and SMDL's
    protocols written from the specs do."""
    import models
    from evals import eval_AUC_faithfulness_baseline as folder_eval

    box = toy_box()
    monkeypatch.setattr(models, "load_model", lambda *a, **k: box)
    eval_list = toy_eval_list(tmp_path)
    rng = np.random.default_rng(0)
    rank_map = rng.integers(0, 6, (32, 32)).astype(np.int16)
    native = rng.random((3, 32, 32)).astype(np.float32)
    (tmp_path / "maps" / "1").mkdir(parents=True)
    np.save(tmp_path / "maps" / "1" / "coffee.npy", rank_map)
    np.save(tmp_path / "maps" / "chelsea.npy", native)
    summary = folder_eval.main(["--maps-dir", str(tmp_path / "maps"), "--eval-list", eval_list, "--Datasets",
                                str(tmp_path), "--preset", "la", "--no-progress"])
    images = [box.to_tensor(box.resize(np.asarray(Image.open(tmp_path / f"{n}.png"))))[0].double().numpy()
              for n in ("coffee", "chelsea")]
    # expected values from LA's protocol written from the spec (tests.test_evals_dense.reference_la): the rank
    # map as (m - rank) / m repeated over the channels, the 3-channel map as it is
    rank_dense = (6 - rank_map.astype(np.float64)) / 6
    attrs = [np.broadcast_to(rank_dense, (3, 32, 32)), native.astype(np.float64)]
    expected = [reference_la(box, image, attr, 224) for image, attr in zip(images, attrs)]
    aucs = [[(sum(c) - c[0] / 2 - c[-1] / 2) / (len(c) - 1) for c in pair] for pair in expected]
    assert summary["insertion_auc"] == pytest.approx(np.mean([a[0] for a in aucs]), abs=1e-5)
    assert summary["deletion_auc"] == pytest.approx(np.mean([a[1] for a in aucs]), abs=1e-5)
    np.testing.assert_allclose(summary["images"][1]["insertion_curve"], expected[1][0], atol=1e-5)
    assert (tmp_path / "maps" / "auc_la.json").is_file()
    summary = folder_eval.main(["--maps-dir", str(tmp_path / "maps"), "--eval-list", eval_list, "--Datasets",
                                str(tmp_path), "--budgets", "0.5", "1.0", "--no-progress"])
    # highest confidence within the whole image = the best point of SMDL's baseline insertion curve (reference)
    best = [max(reference_smdl_baseline(box, image, attr.mean(axis=0), label)[0][1:])
            for image, attr, label in zip(images, attrs, (1, 2))]
    full = summary["highest_confidence"][1]
    assert full["samples"] == 2
    assert full["highest_confidence_mean"] == pytest.approx(np.mean(best), abs=1e-5)


def test_a_new_preset_is_one_entry_in_presets(tmp_path, monkeypatch):
    """The README's "to add a metric": one ``CausalPreset`` entry in ``evals.presets.PRESETS`` and the report
    takes it as ``--presets``, scores it with the engine and marks its columns ↑/↓ (``METRICS`` is rebuilt here as
    importing the module would)."""
    import dataclasses

    import torch

    from common.images import load_image
    from evals import metrics, presets
    from evals.causal import insertion_deletion

    new = dataclasses.replace(presets.PRESETS["xplique"], name="xplique5", n_steps=5, reference="a test preset")
    monkeypatch.setitem(presets.PRESETS, "xplique5", new)
    monkeypatch.setattr(report, "METRICS", metrics._build_registry())
    box = toy_box()
    out = tmp_path / "rep"
    args = report.build_parser().parse_args([
        "--methods", "sm", "--presets", "xplique5", "--mufidelity", "", "--budgets", "--photos", "coffee",
        "--no-progress", "--eval-list", toy_eval_list(tmp_path), "--Datasets", str(tmp_path), "--save-dir", str(out)])
    row = report.run_report(args, blackbox=box)["rows"][0]
    image = box.to_tensor(box.resize(load_image(tmp_path / "coffee.png")))
    saliency = torch.from_numpy(report.dense(np.load(out / "maps" / "sm" / "coffee.npy")))[None]
    expected = insertion_deletion(box, image, saliency, presets.get_preset("xplique", n_steps=5), targets=[1])
    assert expected.x.shape == (6,)
    assert row["insertion_xplique5"] == pytest.approx(expected.insertion_auc, abs=1e-12)
    assert row["deletion_xplique5"] == pytest.approx(expected.deletion_auc, abs=1e-12)
    markdown = (out / "report.md").read_text()
    assert "insertion_xplique5 ↑" in markdown and "deletion_xplique5 ↓" in markdown and "5 steps" in markdown


def pairwise_gini(values: np.ndarray) -> float:
    """The Gini index from its definition: mean absolute difference over all ordered pairs / (2 · mean)."""
    x = np.asarray(values, dtype=np.float64).ravel()
    return float(np.abs(x[:, None] - x[None, :]).mean() / (2 * x.mean())) if x.sum() else 0.0


def test_sparseness_is_the_gini_index_of_the_absolute_map():
    from evals.sparseness import gini, sparseness

    rng = np.random.default_rng(3)
    for shape in ((7, 5), (16, 16)):
        values = rng.normal(size=shape)
        assert sparseness(None, None, values, 0) == pytest.approx(pairwise_gini(np.abs(values)), rel=1e-12)
    assert gini(np.ones((4, 4))) == 0.0 and gini(np.zeros((4, 4))) == 0.0
    one_hot = np.zeros(10)
    one_hot[3] = 2.5
    assert gini(one_hot) == pytest.approx(0.9)  # (n - 1) / n


def test_report_scores_adds_a_registered_map_metric(tmp_path):
    """``--scores sparseness``: a per-map metric of ``evals.metrics.MAP_METRICS`` (one file + one entry) gets its
    column (mean over photos of each cached map's Gini index), its ↑ and its line in the header."""
    from evals.metrics import MAP_METRICS, METRICS

    assert set(MAP_METRICS) <= set(METRICS) and all(callable(m.load()) for m in MAP_METRICS.values())
    out = tmp_path / "rep"
    args = report.build_parser().parse_args([
        "--methods", "smdl", "--param", "smdl.division=grid", "--param", "smdl.grid_size=3", "--presets", "xplique",
        "--mufidelity", "", "--budgets", "--scores", "sparseness", "--no-progress", "--eval-list",
        toy_eval_list(tmp_path), "--Datasets", str(tmp_path), "--save-dir", str(out)])
    row = report.run_report(args, blackbox=toy_box())["rows"][0]
    expected = np.mean([pairwise_gini(np.load(out / "maps" / "smdl" / f"{p}.npy")) for p in ("coffee", "chelsea")])
    assert 0.0 < row["sparseness"] < 1.0 and row["sparseness"] == pytest.approx(expected, rel=1e-9)
    markdown = (out / "report.md").read_text()
    assert "sparseness ↑" in markdown and "- `sparseness`: Gini index" in markdown
