"""Embedding black box (target = a reference embedding) and evidential confidence, against hand computations."""

import math

import numpy as np
import pytest
import torch

from models.base import BlackBox
from models.embedding import EmbeddingBlackBox, similarity_probabilities
from models.evidential import EvidentialConfidence, evidential_confidence
from submodular_attribution.masking import compose_masked
from submodular_attribution.objective import Lambdas, SubmodularObjective
from tests.conftest import toy_classifier


def test_evidential_confidence_hand_values():
    logits = torch.tensor([[0.0, 0.0], [20.0, -20.0], [1.0, 0.0]])
    # alpha = exp(clamp(s * z, -10, 10)) + 1; confidence = 1 - K / sum(alpha)
    expected = [1 - 2 / 4, 1 - 2 / (math.exp(10) + 1 + math.exp(-10) + 1), 1 - 2 / (math.e + 1 + 2)]
    torch.testing.assert_close(evidential_confidence(logits, 1.0), torch.tensor(expected))
    assert float(evidential_confidence(torch.tensor([[1.0, 0.0]]), 5.0)[0]) == pytest.approx(1 - 2 / (math.exp(5) + 3), rel=1e-6)


def image_and_labels(size=16):
    gen = torch.Generator().manual_seed(1)
    image = torch.rand(3, size, size, generator=gen)
    labels = torch.zeros(size, size, dtype=torch.long)
    labels[:, size // 2 :] = 1
    labels[size // 2 :, :] += 2  # 4 quadrants
    return image, labels


def test_embedding_objective_terms_equal_hand_computation():
    image, labels = image_and_labels()
    box = EmbeddingBlackBox(toy_classifier(size=16), batch_size=3)
    box.begin_sample(image)
    assert box.forward_count == 1 and box.explained_target(42) == 0
    objective = SubmodularObjective(box, image, labels, 0, Lambdas(0.5, 0.0, 1.0, 1.0))
    subsets = torch.tensor([[True, True, True, True], [True, False, False, False], [False, True, True, False]])
    scores = objective.score(subsets)
    assert float(scores.consistency[0]) == pytest.approx(1.0, abs=1e-6), "the full image against its own embedding"
    reference = image.mean(dim=(1, 2)).numpy()  # toy features = channel means (identity normalisation)

    def similarity(keep):
        kept = compose_masked(image, torch.zeros_like(image), labels, keep[None])[0]
        emb = kept.mean(dim=(1, 2)).numpy()
        return max(emb @ reference / np.linalg.norm(emb) / np.linalg.norm(reference), 0.0) if emb.any() else 0.0

    for row, keep in enumerate(subsets):
        s_kept, s_complement = similarity(keep), similarity(~keep)
        assert float(scores.consistency[row]) == pytest.approx(s_kept, abs=1e-6)
        assert float(scores.collaboration[row]) == pytest.approx(1 - s_complement, abs=1e-6)
        entropy = -(s_kept * math.log(s_kept + 1e-7) + (1 - s_kept) * math.log(1 - s_kept + 1e-7))
        assert float(scores.confidence[row]) == pytest.approx(1 - entropy / math.log(2), abs=1e-5)


def test_fixed_reference_and_similarity_range():
    probs = similarity_probabilities(torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0]]), torch.tensor([3.0, 0.0]))
    torch.testing.assert_close(probs, torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]))
    probs = similarity_probabilities(torch.tensor([[1.0, 1.0]]), torch.tensor([1.0, 0.0]))
    torch.testing.assert_close(probs, torch.tensor([[0.5**0.5, 1 - 0.5**0.5]]))
    box = EmbeddingBlackBox(toy_classifier(size=16), reference=torch.tensor([1.0, 0.0, 0.0]))
    image, _ = image_and_labels()
    box.begin_sample(image)
    assert box.forward_count == 0  # a given reference costs no forward
    p = box.predict(image[None])
    emb = image.mean(dim=(1, 2))
    assert float(p[0, 0]) == pytest.approx(float(emb[0] / emb.norm()), abs=1e-6)


def test_evidential_term_plugs_into_the_objective():
    image, labels = image_and_labels()
    main_box = BlackBox(toy_classifier(size=16, seed=0), batch_size=2)
    uncertainty = BlackBox(toy_classifier(num_classes=5, size=16, seed=3), batch_size=2)
    term = EvidentialConfidence(uncertainty, evidence_scale=5.0)
    objective = SubmodularObjective(main_box, image, labels, 1, Lambdas(1.0, 0.0, 1.0, 1.0), confidence_term=term)
    subsets = torch.tensor([[True, False, True, False], [False, False, False, True], [True, True, True, True]])
    scores = objective.score(subsets)
    kept = compose_masked(image, torch.zeros_like(image), labels, subsets)
    logits = uncertainty.classifier(kept)
    alpha = torch.exp(torch.clamp(5.0 * logits, -10, 10)) + 1
    torch.testing.assert_close(scores.confidence, 1 - 5 / alpha.sum(dim=1))
    assert uncertainty.forward_count == 3  # the kept images of the 3 subsets, counted by the uncertainty box
    # lambda1 = 0 skips the uncertainty model
    before = uncertainty.forward_count
    SubmodularObjective(main_box, image, labels, 1, Lambdas(0.0, 0.0, 1.0, 1.0), confidence_term=term).score(subsets)
    assert uncertainty.forward_count == before


def test_embedding_over_the_real_classifier_features(lite0_blackbox, coffee):
    """Lite0's pooled features as an embedding model: the full photo is its own best match."""
    from submodular_attribution import SubmodularExplainer

    box = EmbeddingBlackBox(lite0_blackbox.classifier, batch_size=16)
    explanation = SubmodularExplainer(box, "grid", {"grid_size": 2}, Lambdas(0.0, 0.0, 1.0, 1.0)).explain(coffee, 967)
    assert explanation.target == 0 and explanation.org_score == pytest.approx(1.0, abs=1e-5)
    assert explanation.curves["consistency"][-1] == pytest.approx(1.0, abs=1e-5)
    assert box.forward_count == 1 + 1 + 4 * 5  # reference + source + greedy


def test_reference_files(tmp_path, coffee):
    from PIL import Image

    from common.errors import ToolkitError
    from models.embedding import load_reference

    np.save(tmp_path / "r.npy", np.array([1.0, 2.0, 3.0], dtype=np.float32))
    torch.testing.assert_close(load_reference(tmp_path / "r.npy"), torch.tensor([1.0, 2.0, 3.0]))
    Image.fromarray(coffee).save(tmp_path / "ref.png")
    box = EmbeddingBlackBox(toy_classifier(size=16))
    expected = box.to_tensor(box.resize(coffee))[0].mean(dim=(1, 2))
    torch.testing.assert_close(load_reference(tmp_path / "ref.png", box), expected)
    with pytest.raises(ToolkitError, match="--reference .*none.npy"):
        load_reference(tmp_path / "none.npy")
    wrong = EmbeddingBlackBox(toy_classifier(size=16), reference=torch.ones(5))
    with pytest.raises(ToolkitError, match="--reference has 5 dimensions"):
        wrong.predict(torch.zeros(1, 3, 16, 16))
