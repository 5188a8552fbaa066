"""One-sided window greedy: candidates are compared on one image each (1 forward instead of 2)."""

from __future__ import annotations

from typing import Any

from common.errors import ToolkitError
from submodular_attribution.selection import base
from submodular_attribution.selection.base import FORWARD_BUDGET, GROUPS, WINDOW, Objective, Selector
from submodular_attribution.selection.coarse import group_masks, region_centroids, spatial_groups
from submodular_attribution.selection.greedy import GreedySelector
from submodular_attribution.selection.options import Option
from submodular_attribution.torch_proxy import torch

ORDERS = ("leave-one-out", "groups", "mixed")


@base.register_selector
class OneSidedWindowSelector(Selector):
    """Window greedy whose candidates are scored on one side only, so a window costs half the forwards.

    F(S ∪ {c}) needs two images, x_{S∪c} (consistency, confidence) and x_{V∖(S∪c)} (collaboration). While the kept
    prefix is still far from the class (p_t(x_S) < ``switch_probability``), the candidates differ mostly in how
    much their removal lowers p_t: the selector compares them on the complement image only and takes the one
    with the lowest p_t(x_{V∖(S∪c)}) (the Deletion side). Afterwards it compares them on the kept image and takes
    the highest p_t(x_{S∪c}) (the Insertion side). The pick's other image is then forwarded, so its prefix gets
    its real F as the saved curve point: no curve costs beyond that one forward.

    The prior order is the leave-one-out order: lowest p_t(x_{V∖c}) first (m forwards); with ``order="groups"``
    the regions are first merged into ``groups`` spatial groups (as :class:`CoarseToFineSelector`), the groups
    ordered by F(G) from one batch (2 forwards each), each group's regions in leave-one-out order; with
    ``order="mixed"`` the Deletion-side steps use the leave-one-out order and the Insertion-side steps the groups
    order. Each step compares the
    first w remaining regions of the prior; w = ``window`` while the budget leaves 2 forwards for every later
    step, then less, down to 1 (the prior itself, 2 forwards per step).

    Forwards, the source image's included: 1 + setup + m (+ 2g with groups) + Σ_j (w_j + 1), at most
    max(``forward_budget``, 1 + setup + 3m (+ 2g)) (budget 0 = ``window`` every step).

    Options: ``window`` (most regions compared per step), ``order`` (the prior order, ``leave-one-out``,
    ``groups`` or ``mixed``), ``groups`` (spatial groups g of the ``groups`` prior), ``switch_probability``
    (p_t(x_S) at which the comparison moves from the Deletion to the Insertion side), ``forward_budget``
    (default 245).
    """

    name = "onesided"
    description = "ours: window greedy over the leave-one-out order, candidates scored on one image (deletion, then insertion side)"

    options = (
        WINDOW,
        Option("order", str, "leave-one-out", "prior order: by p(image without the region), or groups by F first, then "
               "that, or mixed (leave-one-out on the deletion side, groups on the insertion side)", choices=ORDERS,
               folder=lambda value, values: f"{value}-{values['groups']}" if value in ("groups", "mixed") else value),
        GROUPS,
        Option("switch_probability", float, 0.05, "target probability of the kept prefix at which candidates are "
               "compared on the kept image instead of the complement image", low=0.0, high=1.0, folder="switch-{value:g}"),
        FORWARD_BUDGET.but(default=245),
    )

    @classmethod
    def expected_forwards(cls, m: int, values: dict[str, Any], setup: int) -> int:
        groups = 2 * min(values["groups"], m) if values["order"] in ("groups", "mixed") else 0
        unbounded = 1 + setup + m + groups + sum(min(values["window"], r) + 1 for r in range(1, m + 1))
        return base.ForwardBudget.expected(values, least=1 + setup + 3 * m + groups, unbounded=unbounded)

    def select(self, objective: Objective) -> base.Selection:
        kept_probabilities = getattr(objective, "kept_probabilities", None)
        target = getattr(objective, "target", None)
        if kept_probabilities is None or target is None:
            raise ToolkitError("--selector onesided: the objective has no kept_probabilities/target; use window")
        m = objective.num_regions
        budget = self.start_budget(objective)
        eye = torch.eye(m, dtype=torch.bool)
        leave_one_out = kept_probabilities(~eye)[:, target].detach().double().cpu()
        budget.charge(m)
        deletion_prior = torch.argsort(leave_one_out, stable=True)  # removing it lowers p_t most: first
        insertion_prior = deletion_prior
        if self.order in ("groups", "mixed"):
            insertion_prior, group_forwards = self._group_prior(objective, deletion_prior)
            budget.charge(group_forwards)
            if self.order == "groups":
                deletion_prior = insertion_prior
        chosen = torch.zeros(m, dtype=torch.bool)
        ranking: list[int] = []
        known: dict[int, dict[str, float]] = {}
        kept_target = 0.0
        for step in base.progress_steps(range(m), "onesided", self.progress):
            prior = deletion_prior if kept_target < self.switch_probability else insertion_prior
            remaining = prior[~chosen[prior]]
            # w compared on one image + 1 for the pick's other image, leaving 2 forwards for every later step
            width = min(len(remaining), budget.share(self.window, per_item=1, reserve=2 * (m - step - 1) + 1))
            candidates = remaining[:width]
            subsets = base.extended_subsets(chosen, candidates)
            if width == 1:
                scores, best = objective.score(subsets), 0
            elif kept_target < self.switch_probability:
                complement = kept_probabilities(~subsets)
                best = GreedySelector.best_index(-complement[:, target])  # ties (1e-6): earliest in the prior
                scores = objective.score(subsets[best:best + 1], complement_probs=complement[best:best + 1])
            else:
                kept = kept_probabilities(subsets)
                best = GreedySelector.best_index(kept[:, target])
                scores = objective.score(subsets[best:best + 1], kept_probs=kept[best:best + 1])
            budget.charge(2 if width == 1 else width + 1)
            pick = int(candidates[best])
            chosen[pick] = True
            ranking.append(pick)
            known[len(ranking)] = scores.at(0)
            kept_target = known[len(ranking)]["consistency"]
        return base.complete_selection(objective, ranking, known)

    def _group_prior(self, objective: Objective, prior: torch.Tensor) -> tuple[torch.Tensor, int]:
        """``prior`` regrouped: spatial groups (as :mod:`coarse`) by F(G) of one batch, best first, each group's
        regions in ``prior`` order; and the forwards spent (2 per group)."""
        m = objective.num_regions
        labels = getattr(objective, "labels", None)
        if labels is None:
            raise ToolkitError("--selector onesided --order groups: the objective has no label map; use --order leave-one-out")
        groups = spatial_groups(region_centroids(labels, m)[0], self.groups)
        group_totals = objective.score(group_masks(groups, m)).total.detach().double().cpu()
        position = torch.empty(m, dtype=torch.long)
        position[prior] = torch.arange(m)
        order = [r for g in torch.argsort(-group_totals, stable=True).tolist()
                 for r in sorted(groups[g], key=lambda r: int(position[r]))]
        return torch.as_tensor(order), 2 * len(groups)
