"""Stochastic greedy (Mirzasoleiman et al. 2015): each step scores a random sample of the remaining regions."""

from __future__ import annotations

from typing import Any

from submodular_attribution.selection import base
from submodular_attribution.selection.base import FORWARD_BUDGET, SEED, Objective, Selection, Selector
from submodular_attribution.selection.greedy import append_best
from submodular_attribution.selection.options import Option
from submodular_attribution.torch_proxy import torch


@base.register_selector
class StochasticGreedySelector(Selector):
    """Each step scores S ∪ {c} for ``sample_size`` regions drawn without replacement from the remaining ones
    (a ``torch.Generator`` seeded with ``seed``: same seed, same ranking) and appends the best. The chosen
    region's scores are its prefix's, so the curves are free. Forwards: about 2·sample_size per step (+ setup).
    With ``forward_budget`` > 0 the early steps draw more regions (up to ``max_sample_size``) while the budget
    still leaves ``sample_size`` per later step: the first picks, which move the curves most, are then close
    to greedy's.

    Options: ``sample_size`` (regions scored per step; the paper's (n/k)·ln(1/ε), 3 ≈ ε = 0.05 for k = n), ``seed``,
    ``forward_budget`` (0 = ``sample_size`` every step), ``max_sample_size`` (most regions drawn in one step
    under a budget; at least ``sample_size``).
    """

    name = "stochastic"
    description = "stochastic greedy: best of --sample-size random regions per step (seeded by --seed)"
    stochastic = True

    options = (Option("sample_size", int, 2, "regions scored per step", low=1, folder="sample-{value}"), SEED, FORWARD_BUDGET,
               Option("max_sample_size", int, 12, "most regions drawn in one step under --forward-budget", low=1,
                      folder="max-sample-{value}", new=True))

    def __init__(self, progress: bool = False, **values: Any) -> None:
        super().__init__(progress, **values)
        self.max_sample_size = max(self.max_sample_size, self.sample_size)

    @classmethod
    def expected_forwards(cls, m: int, values: dict[str, Any], setup: int) -> int:
        unbounded = 1 + setup + 2 * sum(min(values["sample_size"], m - step) for step in range(m))
        return base.ForwardBudget.expected(values, least=0, unbounded=unbounded)

    def select(self, objective: Objective) -> Selection:
        m = objective.num_regions
        generator = torch.Generator().manual_seed(self.seed)
        chosen = torch.zeros(m, dtype=torch.bool)
        ranking: list[int] = []
        known: dict[int, dict[str, float]] = {}
        budget = self.start_budget(objective)
        # regions the later steps draw at least (only a budget needs it): updated per step, not summed again
        later = sum(min(self.sample_size, m - j) for j in range(1, m)) if budget.bounded else 0
        for step in base.progress_steps(range(m), "stochastic", self.progress):
            remaining = torch.nonzero(~chosen).flatten()
            if step > 0 and budget.bounded:
                later -= min(self.sample_size, m - step)
            size = budget.share(self.max_sample_size, per_item=2, reserve=2 * later, least=self.sample_size,
                                unbounded=self.sample_size)
            draw = torch.randperm(len(remaining), generator=generator)[:size]
            budget.charge(2 * len(draw))
            sample = remaining[torch.sort(draw).values]  # ascending ids: ties go to the lowest index
            append_best(objective, chosen, sample, ranking, known)
        return base.complete_selection(objective, ranking, known)
