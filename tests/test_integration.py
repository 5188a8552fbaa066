"""The whole pipeline with the real EfficientNet-Lite0 on a real photo."""

import json

import numpy as np

from evals.eval_AUC_faithfulness import evaluate_explanation_dir
from submodular_attribution.driver import main
from visualization.demo import draw_results_folder

PRESET = "smdl_explanation_imagenet_superpixel"


def test_lite0_classifies_coffee_as_espresso(lite0_blackbox, coffee):
    probs = lite0_blackbox.predict_images(coffee)[0]
    assert int(probs.argmax()) == 967
    assert lite0_blackbox.class_names[967] == "espresso"
    assert float(probs[967]) > 0.8


def test_demo_labels_are_lite0_top1(lite0_blackbox):
    from common.eval_list import demo_samples

    for sample in demo_samples():
        assert int(lite0_blackbox.predict_images(sample.load())[0].argmax()) == sample.label, sample.name


def test_end_to_end_grid_4x4_on_coffee(tmp_path):
    run_dir, report = main(PRESET, ["--eval-list", "demo", "--begin", "0", "--end", "1", "--superpixel-algorithm", "grid",
                                    "--grid-size", "4", "--save-dir", str(tmp_path), "--batch-size", "16", "--no-progress"])
    assert report.done == 1
    data = json.loads((run_dir / "json/967/coffee.json").read_text())
    assert data["target"] == 967 and data["sub-k"] == 16
    assert data["forward_passes"] == 16 + 1 + 16 * 17
    assert np.all(np.diff(data["region_area"]) > 0) and abs(data["region_area"][-1] - 1) < 1e-9
    assert data["org_score"] > 0.8 and data["baseline_score"] < 0.1
    summary = evaluate_explanation_dir(run_dir)
    image = summary["images"][0]
    assert image["insertion"] > image["deletion"]
    assert image["insertion"] > 0.5 and image["deletion"] < 0.3
    figures = draw_results_folder(run_dir)
    assert len(figures) == 1 and figures[0].stat().st_size > 10_000


def test_ranking_does_not_depend_on_the_batch_size(coffee):
    from models import load_model
    from submodular_attribution import SubmodularExplainer

    rankings = []
    for batch_size in (1, 7):
        explainer = SubmodularExplainer(load_model(batch_size=batch_size), "grid", {"grid_size": 3})
        rankings.append(explainer.explain(coffee, 967).ranking)
    assert rankings[0] == rankings[1]
