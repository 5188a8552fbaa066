"""The plain greedy of SMDL (specs/smdl.md §3.1): the reference every faster selector is tested against."""

from __future__ import annotations

from submodular_attribution.selection import base
from submodular_attribution.selection.base import Objective, Selection, Selector
from submodular_attribution.torch_proxy import torch


@base.register_selector
class GreedySelector(Selector):
    """At each step score S ∪ {c} for every remaining c in one batch and keep the argmax (ties: lowest index).

    Runs until every region is ranked (the original sets k = m). Cost: Σ_{n=1}^{m} n subset evaluations, i.e.
    m(m+1) forwards for an objective that needs a kept and a complement image per subset (+ setup + the source
    image's: :meth:`Selector.expected_forwards`). No options.
    """

    name = "greedy"
    description = "plain greedy, the full ranking (reference; m(m+1) forwards)"

    @staticmethod
    def best_index(totals: torch.Tensor) -> int:
        """Index of the largest total; values within 1e-6 of the maximum tie and go to the lowest index, so
        float noise between batch sizes (~1e-7 on CPU) does not flip the ranking."""
        totals = totals.detach().double().cpu()
        return int(torch.nonzero(totals >= totals.max() - 1e-6)[0])

    def select(self, objective: Objective) -> Selection:
        m = objective.num_regions
        chosen = torch.zeros(m, dtype=torch.bool)
        ranking: list[int] = []
        known: dict[int, dict[str, float]] = {}
        for _ in base.progress_steps(range(m), "greedy", self.progress):
            append_best(objective, chosen, torch.nonzero(~chosen).flatten(), ranking, known)
        return base.complete_selection(objective, ranking, known)  # every prefix already scored: no forward


def append_best(objective: Objective, chosen: torch.Tensor, candidates: torch.Tensor, ranking: list[int],
                known: dict[int, dict[str, float]]) -> int:
    """One greedy step over ``candidates`` ``(k,)``: score ``chosen`` ``(m,)`` ∪ {c} for each (2k forwards), mark the
    best (ties: the earliest candidate) in ``chosen``, append it to ``ranking`` and its terms to ``known`` (the
    curve point of the new prefix). Returns the best's position in ``candidates``."""
    scores = objective.score(base.extended_subsets(chosen, candidates))
    best = GreedySelector.best_index(scores.total)
    pick = int(candidates[best])
    chosen[pick] = True
    ranking.append(pick)
    known[len(ranking)] = scores.at(best)
    return best

