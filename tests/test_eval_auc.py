"""Insertion/Deletion from saved SMDL curves on analytic cases."""

import json

import numpy as np
import pytest

from evals.eval_AUC_faithfulness import evaluate_explanation_dir
from evals.smdl_curves import (
    areas_from_rank_map,
    areas_from_region_stack,
    highest_confidence,
    load_result,
    smdl_curves,
    trapezoid_auc,
)


def test_trapezoid_matches_sklearn():
    from sklearn.metrics import auc

    x = np.array([0, 0.1, 0.35, 0.5, 1.0])
    y = np.array([0.2, 0.4, 0.1, 0.9, 0.5])
    assert trapezoid_auc(x, y) == pytest.approx(auc(x, y))
    assert trapezoid_auc(x[::-1], y[::-1]) == pytest.approx(auc(x, y))


def write_result(root, name, rank_map, cons, colla, stack=None):
    (root / "json" / "1").mkdir(parents=True, exist_ok=True)
    (root / "npy" / "1").mkdir(parents=True, exist_ok=True)
    (root / "json" / "1" / f"{name}.json").write_text(json.dumps(
        {"consistency_score": list(cons), "collaboration_score": list(colla), "target": 1}))
    np.save(root / "npy" / "1" / f"{name}.npy", rank_map if stack is None else stack)


def test_score_equal_to_revealed_fraction_gives_half(tmp_path):
    """A model whose target score is the revealed fraction: insertion y = x, deletion y = 1 - x -> both 0.5."""
    rank_map = np.repeat(np.arange(4), 16).reshape(8, 8).astype(np.int16)  # 4 regions of 16 px
    fractions = np.array([0.25, 0.5, 0.75, 1.0])
    write_result(tmp_path, "a", rank_map, cons=fractions, colla=fractions)  # p(V∖S_j) = 1 - f_j
    summary = evaluate_explanation_dir(tmp_path)
    assert summary["insertion_auc"] == pytest.approx(0.5)
    assert summary["deletion_auc"] == pytest.approx(0.5)


def test_unequal_regions_use_the_area_axis(tmp_path):
    """The score jumps to 1 once region 0 (75% of the image) is in: insertion AUC = 0.75/2 + 0.25."""
    rank_map = np.zeros((4, 4), np.int16)
    rank_map[3] = 1  # region 1 = last row (25%)
    write_result(tmp_path, "b", rank_map, cons=[1.0, 1.0], colla=[1.0, 1.0])  # p(∅)=0, p(V∖S_1)=0
    summary = evaluate_explanation_dir(tmp_path)
    assert summary["insertion_auc"] == pytest.approx(0.75 / 2 + 0.25)
    assert summary["deletion_auc"] == pytest.approx(0.75 / 2)


def test_region_stack_and_rank_map_agree_without_black_pixels():
    rng = np.random.default_rng(0)
    image = rng.integers(1, 256, (6, 6, 3), dtype=np.uint8)
    rank_map = rng.integers(0, 3, (6, 6)).astype(np.int16)
    stack = np.stack([image * (rank_map == r)[..., None] for r in range(3)])
    ins_a, del_a = areas_from_rank_map(rank_map, 3)
    ins_b, del_b = areas_from_region_stack(stack)
    np.testing.assert_allclose(ins_a, ins_b)
    np.testing.assert_allclose(del_a, del_b)


def test_region_stack_never_counts_black_pixels_as_revealed():
    image = np.full((2, 2, 3), 200, np.uint8)
    image[0, 0] = 0
    stack = np.stack([image * np.array([[1, 1], [0, 0]], np.uint8)[..., None], image * np.array([[0, 0], [1, 1]], np.uint8)[..., None]])
    ins, dele = areas_from_region_stack(stack)
    np.testing.assert_allclose(ins, [0, 0.25, 0.75])
    np.testing.assert_allclose(dele, [0.25, 0.5, 1.0])


def test_curves_layout():
    curves = smdl_curves([0.2, 0.6, 0.9], [0.5, 0.8, 0.95], np.array([0, 0.3, 0.6, 1]), np.array([0, 0.3, 0.6, 1]))
    np.testing.assert_allclose(curves.insertion_y, [0.05, 0.2, 0.6, 0.9])
    np.testing.assert_allclose(curves.deletion_y, [0.9, 0.5, 0.2, 0.05])


def test_highest_confidence_respects_the_budget():
    assert highest_confidence([0.1, 0.7, 0.4, 0.9], [0.2, 0.4, 0.6, 1.0], 0.5) == (0.7, 0.4)
    assert highest_confidence([0.1, 0.7, 0.4, 0.9], [0.2, 0.4, 0.6, 1.0], 1.0) == (0.9, 1.0)
    assert highest_confidence([0.1, 0.7], [0.3, 1.0], 0.25) is None


def test_highest_confidence_entry_over_a_folder(tmp_path):
    from evals.eval_highest_confidence import evaluate_highest_confidence

    rank_map = np.repeat(np.arange(4), 16).reshape(8, 8).astype(np.int16)
    write_result(tmp_path, "a", rank_map, cons=[0.2, 0.6, 0.4, 0.5], colla=[0.5] * 4)
    write_result(tmp_path, "b", rank_map, cons=[0.4, 0.1, 0.9, 0.3], colla=[0.5] * 4)
    rows = {r["budget"]: r for r in evaluate_highest_confidence(tmp_path, [0.25, 0.5, 1.0])["budgets"]}
    assert rows[0.25]["highest_confidence_mean"] == pytest.approx(0.3)
    assert rows[0.5]["highest_confidence_mean"] == pytest.approx(0.5)
    assert rows[1.0]["highest_confidence_mean"] == pytest.approx(0.75)
    assert rows[1.0]["area_mean"] == pytest.approx((0.5 + 0.75) / 2)


def test_mismatched_npy_is_reported(tmp_path):
    write_result(tmp_path, "c", np.zeros((4, 4), np.int16), cons=[0.5, 0.5], colla=[0.5, 0.5])
    with pytest.raises(ValueError, match="regions"):
        load_result(tmp_path / "json/1/c.json", tmp_path / "npy/1/c.npy")
    summary = evaluate_explanation_dir(tmp_path)
    assert summary["num_images"] == 0 and len(summary["skipped"]) == 1
