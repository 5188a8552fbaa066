"""``--search-dtype bf16``: decisions on bf16 scores, every saved curve point the fp32 score of its prefix."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from common.errors import ToolkitError
from models import precision
from models.base import BlackBox
from submodular_attribution import Lambdas, SubmodularExplainer, SubmodularObjective
from submodular_attribution.explainer import exact_curves
from submodular_attribution.masking import make_fill
from submodular_attribution.objective import TERMS
from submodular_attribution.selection.base import prefix_masks
from tests.conftest import toy_classifier


@pytest.fixture
def native_bf16(monkeypatch):
    """Pretend the CPU has native bf16 so the semantics are tested on any machine (autocast runs everywhere)."""
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda cpuinfo="/proc/cpuinfo": True)


def _image(size: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


@pytest.mark.parametrize("selector,options", [("greedy", {}), ("bidirectional", {"pending_samples": 3})])
def test_every_curve_point_is_the_fp32_score_of_its_prefix(native_bf16, selector, options):
    box = BlackBox(toy_classifier(), device="cpu", batch_size=7)
    lambdas = Lambdas(0.01, 0.05, 20.0, 5.0)
    image = _image()
    explainer = SubmodularExplainer(box, "grid", {"grid_size": 4}, lambdas, selector=selector,
                                    selector_options=options, search_dtype="bf16")
    before = box.forward_count
    explanation = explainer.explain(image, 1)
    m = explanation.num_regions
    # counts: search + exact = total = the black box's counter; the exact part is one kept + one complement per prefix
    assert explanation.forward_passes == box.forward_count - before
    data = explanation.to_json()
    assert data["forward_passes_search"] + data["forward_passes_exact"] == data["forward_passes"]
    assert data["forward_passes_exact"] == 2 * m and data["search_dtype"] == "bf16"

    # an independent fp32 re-score of each prefix, one at a time (another batch composition than the explainer's)
    x = box.to_tensor(box.resize(image))[0]
    objective = SubmodularObjective(box, x, torch.from_numpy(explanation.labels), 1, lambdas, make_fill(x))
    assert box.amp is None
    for j in range(1, m + 1):
        scores = objective.score(prefix_masks(explanation.ranking, [j], m)).at(0)
        for name in (*TERMS, "total"):
            assert explanation.curves[name][j - 1] == pytest.approx(scores[name], abs=1e-6), (name, j)
    assert explanation.baseline_score == pytest.approx(1.0 - explanation.curves["collaboration"][-1])


def test_bf16_scores_differ_from_fp32_so_the_rescore_matters(native_bf16):
    """The search's own bf16 values are not the curves: they differ from fp32 by far more than the tolerance."""
    box = BlackBox(toy_classifier(), device="cpu", batch_size=7)
    image = _image(seed=1)
    x = box.to_tensor(box.resize(image))[0]
    labels = torch.arange(16).view(4, 4).repeat_interleave(4, 0).repeat_interleave(4, 1)
    objective = SubmodularObjective(box, x, labels, 1, Lambdas(0.01, 0.0, 20.0, 5.0), make_fill(x))
    ranking = list(range(16))
    fp32 = exact_curves(objective, ranking)
    with box.autocast("bf16"):
        bf16 = exact_curves(objective, ranking)
    assert max(abs(a - b) for a, b in zip(fp32["total"], bf16["total"])) > 1e-4


def test_fp32_search_spends_no_exact_forwards_and_keeps_its_curves(toy_blackbox):
    explanation = SubmodularExplainer(toy_blackbox, "grid", {"grid_size": 2}).explain(_image(), 1)
    data = explanation.to_json()
    assert data["forward_passes_exact"] == 0 and data["forward_passes_search"] == data["forward_passes"] == 1 + 4 + 4 * 5
    assert data["search_dtype"] == "fp32"


def test_bf16_is_refused_on_a_cpu_without_native_bf16(tmp_path):
    old_cpu = tmp_path / "cpuinfo"
    old_cpu.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw\n")
    new_cpu = tmp_path / "cpuinfo_new"
    new_cpu.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16\n")
    assert not precision.cpu_has_native_bf16(old_cpu)
    assert precision.cpu_has_native_bf16(new_cpu) == torch.backends.mkldnn.is_available()


def test_refusal_is_one_line_naming_the_flag(monkeypatch, toy_blackbox):
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda cpuinfo="/proc/cpuinfo": False)
    with pytest.raises(ToolkitError, match=r"^--search-dtype bf16: .*use --search-dtype fp32$") as info:
        SubmodularExplainer(toy_blackbox, "grid", {"grid_size": 2}, search_dtype="bf16")
    assert "\n" not in str(info.value)
    precision.check_search_dtype("fp32", "cpu")  # fp32 is never refused
    with pytest.raises(ToolkitError, match="--search-dtype fp16"):
        precision.check_search_dtype("fp16", "cpu")


def test_run_folder_and_identity_carry_the_setting_and_fp32_keeps_old_names(tmp_path):
    from submodular_attribution.driver import build_parser, run_folder_name, run_identity
    PRESET = "lima_explanation_imagenet_superpixel"

    parser = build_parser(PRESET)
    base = ["--save-dir", str(tmp_path)]
    fp32 = parser.parse_args(base)
    bf16 = parser.parse_args(base + ["--search-dtype", "bf16"])
    assert fp32.search_dtype == "fp32"
    assert run_folder_name(fp32) == "slico-0.01-0.0-20.0-5.0-bidirectional-pending-samples-12"
    assert run_folder_name(bf16) == run_folder_name(fp32) + "-search-bf16"
    legacy = parser.parse_args(base)
    del legacy.search_dtype  # a namespace from before the flag existed: same identity key as fp32
    assert run_identity(fp32).key == run_identity(legacy).key != run_identity(bf16).key
