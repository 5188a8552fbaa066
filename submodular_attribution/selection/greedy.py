"""The plain greedy of SMDL (specs/smdl.md §3.1): the reference every faster selector is tested against."""

from __future__ import annotations

import torch

from submodular_attribution.objective import TERMS
from submodular_attribution.selection.base import Objective, Selection, Selector, register_selector


@register_selector
class GreedySelector(Selector):
    """At each step score S ∪ {c} for every remaining c in one batch and keep the argmax (ties: lowest index).

    Runs until every region is ranked (the original sets k = m). Cost: Σ_{n=1}^{m} n subset evaluations, i.e.
    m(m+1) forwards for an objective that needs a kept and a complement image per subset.

    Args:
        progress: show a per-step progress bar.
    """

    name = "greedy"
    description = "plain greedy, the full ranking (reference; m(m+1) forwards)"

    def __init__(self, progress: bool = False) -> None:
        self.progress = progress

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
        curves: dict[str, list[float]] = {name: [] for name in (*TERMS, "total")}
        steps = range(m)
        if self.progress:
            from common.progress import progress_bar

            steps = progress_bar(steps, desc="greedy", unit="region", leave=False)
        for _ in steps:
            candidates = torch.nonzero(~chosen).flatten()
            subsets = chosen.repeat(len(candidates), 1)
            subsets[torch.arange(len(candidates)), candidates] = True
            scores = objective.score(subsets)
            best = self.best_index(scores.total)
            region = int(candidates[best])
            chosen[region] = True
            ranking.append(region)
            for name, value in scores.at(best).items():
                curves[name].append(value)
        return Selection(ranking, curves)
