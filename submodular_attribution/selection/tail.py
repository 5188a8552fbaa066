"""Greedy head, tail ranked from one batch of scores: the last full greedy batch orders everything left."""

from __future__ import annotations

from typing import Any

from submodular_attribution.selection import base
from submodular_attribution.selection.base import Objective, Selection, Selector
from submodular_attribution.selection.greedy import GreedySelector
from submodular_attribution.selection.options import Option
from submodular_attribution.torch_proxy import torch


@base.register_selector
class TailSelector(Selector):
    """``head_steps`` plain greedy steps, then the remaining regions in the order of their scores F(S ∪ {c})
    from the last full batch (with 0 head steps: the single-region scores F({c}), one batch that reuses the
    effectiveness setup's single-region images). The tail's prefixes are scored afterwards (2 forwards each).

    Forwards with h head steps: setup + m (2m without cached single-region images) + Σ_{j=1..h} 2(m - j)
    + 2(m - h - 1) for the tail's prefixes; 4m - 2 for h = 0 with the effectiveness setup's m.

    Options: ``head_steps``, full greedy batches after the single-region batch (each costs 2 forwards per candidate).
    """

    name = "tail"
    description = "greedy head of --head-steps batches, the rest ordered by the last batch's scores (~4m forwards)"
    exact = True

    options = (Option("head_steps", int, 0, "full greedy batches before the tail is ordered", low=0, folder="head-{value}"),)

    @classmethod
    def expected_forwards(cls, m: int, values: dict[str, Any], setup: int) -> int:
        head = min(values["head_steps"], m - 1)
        return 1 + setup + base.singles_cost(m, setup) + sum(2 * (m - j) for j in range(1, head + 1)) + 2 * max(m - head - 1, 0)

    def select(self, objective: Objective) -> Selection:
        m = objective.num_regions
        chosen = torch.zeros(m, dtype=torch.bool)
        ranking: list[int] = []
        known: dict[int, dict[str, float]] = {}
        candidates = torch.arange(m)
        scores = base.singleton_scores(objective)
        for _ in range(self.head_steps + 1):
            best = GreedySelector.best_index(scores.total)
            pick = int(candidates[best])
            chosen[pick] = True
            ranking.append(pick)
            known[len(ranking)] = scores.at(best)
            if len(ranking) == m:
                return base.complete_selection(objective, ranking, known)
            last_totals, last_candidates = scores.total.detach().double().cpu(), candidates
            candidates = torch.nonzero(~chosen).flatten()
            if len(ranking) <= self.head_steps:
                scores = objective.score(base.extended_subsets(chosen, candidates))
        keep = ~chosen[last_candidates]
        tail_totals, tail_regions = last_totals[keep], last_candidates[keep]
        order = torch.argsort(-tail_totals, stable=True)  # ties: lowest index first
        ranking += tail_regions[order].tolist()
        return base.complete_selection(objective, ranking, known)
