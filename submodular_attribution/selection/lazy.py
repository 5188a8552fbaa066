"""Lazy greedy: stale marginal gains as upper bounds, the best few re-evaluated per step in one batch."""

from __future__ import annotations

from typing import Any

from submodular_attribution.selection import base
from submodular_attribution.selection.base import FORWARD_BUDGET, Objective, Selection, Selector
from submodular_attribution.selection.greedy import GreedySelector
from submodular_attribution.selection.options import Option
from submodular_attribution.torch_proxy import torch


@base.register_selector
class LazyGreedySelector(Selector):
    """Minoux's lazy greedy with batched re-evaluation, optionally under a forward budget.

    The gains F({c}) of one batch of single regions start as every region's bound. Each step re-scores
    S ∪ {c} for the ``lazy_batch`` regions with the highest (stale) bound and accepts the best fresh one when
    its gain beats every stale bound; otherwise it re-scores the next batch. Exact (plain greedy's ranking)
    when F is submodular, as stale gains are then upper bounds; a heuristic otherwise (ours is not submodular).

    With ``forward_budget`` > 0 the search stops re-scoring when the budget would not leave 2 forwards for
    each later step, and accepts the best fresh region: the extra forwards go to the early steps, where the
    Insertion and Deletion curves change most. The accepted region's scores are its prefix's scores, so the
    curves cost nothing extra. Forwards: setup + m (2m without cached single-region images) + 2 per re-scored
    region; at least 4m - 2 with the setup's m.

    Options: ``lazy_batch`` (regions re-scored per batch), ``forward_budget`` (0 = no budget: exact lazy greedy).
    """

    name = "lazy"
    description = "lazy greedy: stale gains re-scored --lazy-batch at a time, within --forward-budget (0 = exact)"
    exact = True

    options = (Option("lazy_batch", int, 4, "regions re-scored per batch", low=1, folder="batch-{value}"), FORWARD_BUDGET)

    @classmethod
    def expected_forwards(cls, m: int, values: dict[str, Any], setup: int) -> int:
        """The budget (at least the search's floor); without one, plain greedy's count plus the single-region batch
        (an upper bound)."""
        head = 1 + setup + base.singles_cost(m, setup)
        return base.ForwardBudget.expected(values, least=head + 2 * (m - 1), unbounded=head + m * (m + 1))

    def select(self, objective: Objective) -> Selection:
        m = objective.num_regions
        budget = self.start_budget(objective)
        first = budget.singleton_scores(objective)
        bound = first.total.detach().double().cpu().clone()  # gain over F(∅) := 0
        chosen = torch.zeros(m, dtype=torch.bool)
        start = GreedySelector.best_index(bound)
        chosen[start] = True
        ranking, known = [start], {1: first.at(start)}
        current = float(bound[start])
        for step in base.progress_steps(range(1, m), "lazy", self.progress):
            fresh = torch.zeros(m, dtype=torch.bool)
            fresh_scores: dict[int, dict[str, float]] = {}
            while True:
                stale = torch.nonzero(~chosen & ~fresh).flatten()
                # re-score while 2 forwards remain for each later step (steps after this one: m - step - 1)
                allowance = budget.share(self.lazy_batch, per_item=2, reserve=2 * (m - step - 1), least=0)
                batch_size = min(len(stale), allowance)
                if fresh.any() and batch_size < 1:
                    break
                batch_size = max(batch_size, 1)
                order = torch.argsort(-bound[stale], stable=True)[:batch_size]  # ties: lowest index first
                batch = stale[order]
                scores = objective.score(base.extended_subsets(chosen, batch))
                budget.charge(2 * len(batch))
                totals = scores.total.detach().double().cpu()
                bound[batch] = totals - current
                fresh[batch] = True
                fresh_scores.update({region: scores.at(row) for row, region in enumerate(batch.tolist())})
                rest = torch.nonzero(~chosen & ~fresh).flatten()
                best_fresh = float(bound[fresh].max())
                if len(rest) == 0 or best_fresh > float(bound[rest].max()) + 1e-6:
                    break
            candidates = torch.nonzero(fresh).flatten()
            pick = int(candidates[GreedySelector.best_index(bound[candidates])])
            chosen[pick] = True
            ranking.append(pick)
            known[len(ranking)] = fresh_scores[pick]
            current += float(bound[pick])
        return base.complete_selection(objective, ranking, known)
