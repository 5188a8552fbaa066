"""Surrogate ranking: fit an additive model of the target's log-odds on random region subsets, rank by its weights."""

from __future__ import annotations

from typing import Any

from submodular_attribution.selection import base
from submodular_attribution.selection.base import FORWARD_BUDGET, SEED, Objective, Selection, Selector
from submodular_attribution.selection.options import Option
from submodular_attribution.torch_proxy import torch

PROB_EPS = 1e-6


def target_log_odds(probs: torch.Tensor) -> torch.Tensor:
    """``log p - log(1 - p)`` of target probabilities ``(n,)``, clamped to [1e-6, 1 - 1e-6]."""
    probs = probs.double().clamp(PROB_EPS, 1.0 - PROB_EPS)
    return torch.log(probs) - torch.log1p(-probs)


def ridge_weights(masks: torch.Tensor, values: torch.Tensor, alpha: float) -> torch.Tensor:
    """Per-region weights w ``(m,)`` of ``values ≈ b + masks @ w`` (``masks`` ``(n, m)`` bool, ``values`` ``(n,)``),
    least squares with an L2 penalty ``alpha`` on w (not on b)."""
    x = masks.double()
    x_centred = x - x.mean(dim=0)
    y_centred = values.double() - values.double().mean()
    gram = x_centred.T @ x_centred + alpha * torch.eye(x.shape[1], dtype=torch.float64)
    return torch.linalg.solve(gram, x_centred.T @ y_centred)


def antithetic_masks(m: int, pairs: int, generator: torch.Generator, max_density: float = 0.5) -> torch.Tensor:
    """``(pairs, m)`` bool random subsets, row k keeping each region with probability d_k ~ U(1/m, max_density);
    scoring a row forwards the subset and its complement, so the data cover sparse and dense subsets alike."""
    densities = torch.rand(pairs, 1, generator=generator, dtype=torch.float64) * (max_density - 1.0 / m) + 1.0 / m
    return torch.rand(pairs, m, generator=generator, dtype=torch.float64) < densities


@base.register_selector
class SurrogateSelector(Selector):
    """Rank regions by the weights of an additive model of the target's log-odds, fitted on random subsets.

    Every scored subset S gives two data points from its two forwards: (S, p_t(x_S)) from the consistency term
    and (V ∖ S, p_t(x_{V∖S})) from the collaboration term. The selector scores the single regions (their
    complements are the leave-one-out images; reusing the effectiveness setup's single-region images when there
    are some), then random subsets of density U(1/m, 1/2) — each with its complement, so the data cover sparse
    (insertion) and dense (deletion) images — until the budget leaves just the 2m forwards of the saved curves.
    A ridge fit of log p_t on the subset indicators gives one weight per region; the ranking is by weight.
    An additive log-odds model ranks the same way for Insertion (keep the heaviest first) and Deletion (remove
    them first); it ignores interactions, which the greedy search sees.

    Forwards, the source image's included: at most ``forward_budget`` (at least 1 + setup + m (2m without cached
    single-region images) + 2m - 2); with 0, m random pairs: 1 + setup + m (or 2m) + 2m + 2m - 2.

    Options: ``seed`` (of the random subsets), ``forward_budget`` (0 = m random pairs; default 245), ``alpha`` (L2
    penalty of the ridge fit).
    """

    name = "surrogate"
    description = "ours: rank by an additive log-odds model fitted on random subsets, within --forward-budget"
    stochastic = True

    options = (SEED, FORWARD_BUDGET.but(default=245),
               Option("alpha", float, 1.0, "L2 penalty of the ridge fit", low=1e-9, folder="alpha-{value:g}", new=True))

    @classmethod
    def expected_forwards(cls, m: int, values: dict[str, Any], setup: int) -> int:
        least = 1 + setup + base.singles_cost(m, setup) + 2 * m - 2
        return base.ForwardBudget.expected(values, least=least, unbounded=least + 2 * m)

    def select(self, objective: Objective) -> Selection:
        m = objective.num_regions
        budget = self.start_budget(objective)
        singles = budget.singleton_scores(objective)
        eye = torch.eye(m, dtype=torch.bool)
        masks, probs = [eye, ~eye], [singles.consistency, 1.0 - singles.collaboration]
        # random pairs (2 forwards each) until the budget leaves the 2m forwards of the saved curves
        pairs = budget.share(None, per_item=2, reserve=2 * m, least=0, unbounded=m)
        known: dict[int, dict[str, float]] = {}
        if pairs:
            generator = torch.Generator().manual_seed(self.seed)
            subsets = antithetic_masks(m, pairs, generator)
            scores = objective.score(subsets)
            budget.charge(2 * pairs)
            masks += [subsets, ~subsets]
            probs += [scores.consistency, 1.0 - scores.collaboration]
        weights = ridge_weights(torch.cat(masks), target_log_odds(torch.cat([p.detach().cpu() for p in probs])), self.alpha)
        singles_total = singles.total.detach().double().cpu()
        # ties (e.g. regions never sampled apart) broken by the single-region score
        order = sorted(range(m), key=lambda r: (-float(weights[r]), -float(singles_total[r]), r))
        known[1] = singles.at(order[0])
        return base.complete_selection(objective, order, known)
