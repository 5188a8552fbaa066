"""Stochastic greedy (Mirzasoleiman et al. 2015): each step scores a random sample of the remaining regions."""

from __future__ import annotations

import torch

from submodular_attribution.selection.base import (
    Objective,
    Selection,
    Selector,
    complete_selection,
    progress_steps,
    register_selector,
)
from submodular_attribution.selection.greedy import append_best


@register_selector
class StochasticGreedySelector(Selector):
    """Each step scores S ∪ {c} for ``sample_size`` regions drawn without replacement from the remaining ones
    (a ``torch.Generator`` seeded with ``seed``: same seed, same ranking) and appends the best. The chosen
    region's scores are its prefix's, so the curves are free. Forwards: about 2·sample_size per step (+ setup).
    With ``forward_budget`` > 0 the early steps draw more regions (up to ``max_sample_size``) while the budget
    still leaves ``sample_size`` per later step: the first picks, which move the curves most, are then close
    to greedy's.

    Args:
        sample_size: regions scored per step (the paper's (n/k)·ln(1/ε); 3 ≈ ε = 0.05 for k = n).
        forward_budget: forwards per image for setup + search (0 = ``sample_size`` every step).
        max_sample_size: most regions drawn in one step under a budget.
        seed: seed of the sampler.
        progress: show a per-step progress bar.
    """

    name = "stochastic"
    description = "stochastic greedy: best of --sample-size random regions per step (seeded by --seed)"
    stochastic = True

    def __init__(self, sample_size: int = 2, seed: int = 0, forward_budget: int = 0, max_sample_size: int = 12,
                 progress: bool = False) -> None:
        if sample_size < 1:
            raise ValueError("sample_size must be >= 1")
        self.forward_budget = int(forward_budget)
        self.max_sample_size = max(int(max_sample_size), int(sample_size))
        self.sample_size = int(sample_size)
        self.seed = int(seed)
        self.progress = progress

    def select(self, objective: Objective) -> Selection:
        m = objective.num_regions
        generator = torch.Generator().manual_seed(self.seed)
        chosen = torch.zeros(m, dtype=torch.bool)
        ranking: list[int] = []
        known: dict[int, dict[str, float]] = {}
        spent = int(getattr(objective, "setup_forwards", 0))
        for step in progress_steps(range(m), "stochastic", self.progress):
            remaining = torch.nonzero(~chosen).flatten()
            size = self.sample_size
            if self.forward_budget > 0:
                later = sum(min(self.sample_size, m - j) for j in range(step + 1, m))
                size = max(size, min(self.max_sample_size, (self.forward_budget - spent) // 2 - later))
            draw = torch.randperm(len(remaining), generator=generator)[:size]
            spent += 2 * min(size, len(remaining))
            sample = remaining[torch.sort(draw).values]  # ascending ids: ties go to the lowest index
            append_best(objective, chosen, sample, ranking, known)
        return complete_selection(objective, ranking, known)
