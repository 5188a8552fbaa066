"""The four terms against hand computation on a tiny known model, and the forward-count formula."""

import math

import numpy as np
import pytest
import torch

from submodular_attribution import Lambdas, SubmodularExplainer, SubmodularObjective
from submodular_attribution.objective import angular_distances, effectiveness_scores
from submodular_attribution.regions import divide


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def hand_terms(classifier, image01, labels, subset, target, distances):
    """Straight from specs/smdl.md §3.1, one subset at a time in numpy."""
    weight = classifier.head.weight.detach().numpy().astype(np.float64)
    bias = classifier.head.bias.detach().numpy().astype(np.float64)
    keep = np.isin(labels, np.flatnonzero(subset))
    kept = image01 * keep[None]
    comp = image01 * ~keep[None]
    p_kept = softmax(weight @ kept.mean(axis=(1, 2)) + bias)
    p_comp = softmax(weight @ comp.mean(axis=(1, 2)) + bias)
    entropy = -np.sum(p_kept * np.log(p_kept + 1e-7))
    members = np.flatnonzero(subset)
    if len(members) > 1:
        eff = sum(min(min(distances[i, j] for j in members if j != i), 1.0) for i in members)
    else:
        eff = 0.0
    return {
        "consistency": p_kept[target],
        "collaboration": 1 - p_comp[target],
        "confidence": 1 - entropy / math.log(len(p_kept)),
        "effectiveness": eff,
    }


def test_four_terms_equal_hand_computed_values(toy_blackbox):
    rng = np.random.default_rng(0)
    image = rng.random((3, 16, 16)).astype(np.float32)
    labels = divide(np.zeros((16, 16, 3), np.uint8), "grid", grid_size=3)
    lambdas = Lambdas(confidence=0.3, effectiveness=0.7, consistency=1.1, collaboration=1.9)
    objective = SubmodularObjective(toy_blackbox, torch.from_numpy(image), torch.from_numpy(labels), 2, lambdas)

    # hand-computed region features -> distances
    feats = np.stack([(image.astype(np.float64) * (labels == i)[None]).mean(axis=(1, 2)) for i in range(9)])
    unit = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    distances = np.arccos(np.clip(unit @ unit.T, -1, 1)) / np.pi
    np.testing.assert_allclose(objective.distances.numpy(), distances, atol=1e-5)

    subsets = rng.random((7, 9)) < 0.5
    subsets[0] = False
    subsets[0, 4] = True  # a singleton
    scores = objective.score(torch.from_numpy(subsets))
    for b, subset in enumerate(subsets):
        hand = hand_terms(toy_blackbox.classifier, image.astype(np.float64), labels, subset, 2, distances)
        for name, value in hand.items():
            assert float(getattr(scores, name)[b]) == pytest.approx(value, abs=2e-5), (name, b)
        total = 0.3 * hand["confidence"] + 0.7 * hand["effectiveness"] + 1.1 * hand["consistency"] + 1.9 * hand["collaboration"]
        assert float(scores.total[b]) == pytest.approx(total, abs=1e-4)


def test_effectiveness_is_zero_for_singletons_and_sums_nearest_distances():
    d = torch.tensor([[0.0, 0.2, 0.9], [0.2, 0.0, 0.4], [0.9, 0.4, 0.0]])
    subsets = torch.tensor([[True, False, False], [True, True, False], [True, True, True], [True, False, True]])
    torch.testing.assert_close(effectiveness_scores(d, subsets), torch.tensor([0.0, 0.4, 0.2 + 0.2 + 0.4, 1.8]))


def test_angular_distance_range():
    d = angular_distances(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]))
    torch.testing.assert_close(d, torch.tensor([[0, 0.5, 1], [0.5, 0, 0.5], [1, 0.5, 0]]), atol=1e-6, rtol=0)


@pytest.mark.parametrize("grid,effectiveness", [(2, 0.05), (3, 0.05), (3, 0.0)])
def test_forward_count_equals_the_spec_formula(toy_blackbox, grid, effectiveness):
    image = np.random.default_rng(2).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    explainer = SubmodularExplainer(toy_blackbox, "grid", {"grid_size": grid}, Lambdas(effectiveness=effectiveness))
    explanation = explainer.explain(image)
    m = grid * grid
    precompute = m if effectiveness else 0
    assert explanation.forward_passes == precompute + 1 + m * (m + 1)
    assert sorted(explanation.ranking) == list(range(m))
    # curves are aligned with ranked prefixes and the last prefix is the whole image
    assert len(explanation.curves["consistency"]) == m
    assert explanation.curves["consistency"][-1] == pytest.approx(explanation.org_score, abs=1e-6)


def test_target_outside_the_classes_is_a_one_line_error(toy_blackbox):
    from common.errors import ToolkitError

    explainer = SubmodularExplainer(toy_blackbox, "grid", {"grid_size": 2})
    with pytest.raises(ToolkitError, match="target class 99"):
        explainer.explain(np.zeros((16, 16, 3), np.uint8), target=99)


def test_fill_changes_what_removed_pixels_become(toy_blackbox):
    image = np.random.default_rng(3).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    black = SubmodularExplainer(toy_blackbox, "grid", {"grid_size": 2}, fill="black").explain(image, 1)
    mean = SubmodularExplainer(toy_blackbox, "grid", {"grid_size": 2}, fill="mean").explain(image, 1)
    # with the mean-colour fill the empty image is the mean colour, which this channel-mean model scores as
    # the full image: the baseline score equals the original score
    assert mean.baseline_score == pytest.approx(mean.org_score, abs=1e-5)
    assert black.baseline_score != pytest.approx(black.org_score, abs=1e-3)
