"""Greedy selection: exact on modular objectives, equal to a slow reference written from the spec."""

import itertools

import numpy as np
import pytest
import torch

from common.errors import ToolkitError
from submodular_attribution.objective import TermScores
from submodular_attribution.selection import GreedySelector, get_selector


class SetFunctionObjective:
    """Wraps a Python set function F(frozenset) as an objective scoring (B, m) bool batches."""

    def __init__(self, m, fn):
        self.num_regions = m
        self.fn = fn
        self.calls = 0

    def score(self, subsets):
        self.calls += len(subsets)
        values = torch.tensor([self.fn(frozenset(np.flatnonzero(s.numpy()).tolist())) for s in subsets], dtype=torch.float64)
        zeros = torch.zeros_like(values)
        return TermScores(zeros, zeros, values, zeros, values)


def reference_greedy(m, fn):
    """specs/smdl.md §3.1 literally: for j in 1..m pick argmax F(S ∪ {c}) over remaining c, ties to lowest index."""
    chosen = []
    for _ in range(m):
        best, best_value = None, -np.inf
        for c in range(m):
            if c in chosen:
                continue
            value = fn(frozenset(chosen + [c]))
            if value > best_value:
                best, best_value = c, value
        chosen.append(best)
    return chosen


def test_modular_objective_gives_exact_sorted_order():
    weights = np.array([0.3, 2.0, -1.0, 0.7, 5.0, 0.0, 1.1])
    objective = SetFunctionObjective(len(weights), lambda s: float(sum(weights[list(s)])))
    selection = GreedySelector().select(objective)
    assert selection.ranking == list(np.argsort(-weights, kind="stable"))
    assert objective.calls == sum(range(1, len(weights) + 1))
    np.testing.assert_allclose(selection.curves["total"], np.cumsum(np.sort(weights)[::-1]))


def test_ties_go_to_the_lowest_index():
    objective = SetFunctionObjective(4, lambda s: float(len(s)))
    assert GreedySelector().select(objective).ranking == [0, 1, 2, 3]


@pytest.mark.parametrize("seed", range(4))
def test_greedy_equals_reference_on_facility_location(seed):
    rng = np.random.default_rng(seed)
    sim = rng.random((8, 12))  # 8 regions covering 12 "features"

    def facility(s):
        return float(sim[list(s)].max(axis=0).sum()) if s else 0.0

    objective = SetFunctionObjective(8, facility)
    assert GreedySelector().select(objective).ranking == reference_greedy(8, facility)


def test_greedy_reaches_the_best_singleton_first():
    rng = np.random.default_rng(5)
    sim = rng.random((6, 5))

    def facility(s):
        return float(sim[list(s)].max(axis=0).sum()) if s else 0.0

    first = GreedySelector().select(SetFunctionObjective(6, facility)).ranking[0]
    best = max(itertools.combinations(range(6), 1), key=lambda s: facility(frozenset(s)))[0]
    assert first == best


def test_unknown_selector_is_a_one_line_error():
    with pytest.raises(ToolkitError, match="--selector"):
        get_selector("random-walk")
