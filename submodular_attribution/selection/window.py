"""Prior-order window greedy: the single-region scores give an order; each step re-scores only the first few
remaining regions of that order, all against the same S, and appends the best of them."""

from __future__ import annotations

from typing import Any

from submodular_attribution.selection import base
from submodular_attribution.selection.base import FORWARD_BUDGET, WINDOW, Objective, Selection, Selector
from submodular_attribution.selection.greedy import append_best
from submodular_attribution.selection.options import Option
from submodular_attribution.torch_proxy import torch

PRIORS = ("score", "log")


@base.register_selector
class WindowSelector(Selector):
    """Greedy restricted to a sliding window of a prior order, the extra forwards spent where curves move.

    1. One batch of single-region scores (reusing the effectiveness setup's single-region images when there are
       some) orders the regions: the prior. ``prior="score"`` orders by F({c}); ``prior="log"`` by
       log p_t(x_c) - log p_t(x_{V∖c}), the evidence of keeping c alone and of removing it, in log space (the
       probabilities of single regions are often ~1e-4, where F cannot tell them apart).
    2. Each step scores S ∪ {c} for the first w remaining regions of the prior and appends the best. All w are
       compared at the same S, so, unlike lazy greedy's stale bounds on this non-submodular F (a region
       re-scored after the collaboration term saturated drops behind every never-re-scored one), an important
       region is never pushed to the tail. The appended region's scores are the prefix's: no curve cost.
    3. w is ``window`` while the budget allows and shrinks to 1 (the prior order itself) so that every later
       step keeps its 2 forwards: the extra forwards go to the first steps, where Insertion and Deletion
       change most.

    Forwards: setup + m (2m without cached single-region images) + 2·Σ_j w_j; with ``forward_budget`` > 0 at
    most max(budget, setup + m + 2(m - 1)) (+2m without the cache).
    On a modular F it returns plain greedy's ranking (the prior is then exact).

    Options: ``window`` (most regions re-scored per step), ``prior`` (``score``: F of the single region, or ``log``:
    the log-evidence of 1.), ``forward_budget`` (0 = ``window`` every step).
    """

    name = "window"
    description = "greedy over a sliding --window of the single-region order, within --forward-budget"
    exact = True

    options = (WINDOW, Option("prior", str, "score", "order regions by F of the single region (score) or by "
                              "log p(kept) - log p(removed) (log)", choices=PRIORS, folder="{value}"), FORWARD_BUDGET)

    @classmethod
    def expected_forwards(cls, m: int, values: dict[str, Any], setup: int) -> int:
        head = 1 + setup + base.singles_cost(m, setup)
        unbounded = head + 2 * sum(min(values["window"], m - step) for step in range(1, m))
        return base.ForwardBudget.expected(values, least=head + 2 * (m - 1), unbounded=unbounded)

    def select(self, objective: Objective) -> Selection:
        budget = self.start_budget(objective)
        first = budget.singleton_scores(objective)
        prior = torch.argsort(-self._prior_values(first), stable=True)  # ties: lowest index first
        start = int(prior[0])
        ranking, known = [start], {1: first.at(start)}
        return window_search(objective, prior, ranking, known, budget, self.window, self.progress)

    def _prior_values(self, singles) -> torch.Tensor:
        if self.prior == "score":
            return singles.total.detach().double().cpu()
        kept = singles.consistency.detach().double().cpu()
        removed = 1.0 - singles.collaboration.detach().double().cpu()
        return torch.log(kept.clamp_min(1e-12)) - torch.log(removed.clamp_min(1e-12))


def window_search(objective: Objective, prior: torch.Tensor, ranking: list[int], known: dict[int, dict[str, float]],
                  budget: base.ForwardBudget, window: int, progress: bool = False) -> Selection:
    """Extend ``ranking`` (a prefix, possibly empty) to all m regions: each step scores S ∪ {c} for the first w
    remaining regions of ``prior`` ``(m,)`` and appends the best; w = ``window`` while ``budget`` leaves 2 forwards
    for every later step, then fewer, down to 1."""
    m = objective.num_regions
    chosen = torch.zeros(m, dtype=torch.bool)
    chosen[ranking] = True
    for step in base.progress_steps(range(len(ranking), m), "window", progress):
        remaining = prior[~chosen[prior]]
        width = min(len(remaining), budget.share(window, per_item=2, reserve=2 * (m - step - 1)))
        # ties between window members go to the earlier one in the prior (the window is in prior order)
        append_best(objective, chosen, remaining[:width], ranking, known)
        budget.charge(2 * width)
    return base.complete_selection(objective, ranking, known)
