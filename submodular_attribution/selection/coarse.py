"""Coarse-to-fine: greedy over spatial groups of regions, then greedy inside the best groups."""

from __future__ import annotations

from typing import Any

from submodular_attribution.selection import base
from submodular_attribution.selection.base import FORWARD_BUDGET, GROUPS, WINDOW, Objective, Selector
from submodular_attribution.selection.greedy import GreedySelector, append_best
from submodular_attribution.selection.options import Option
from submodular_attribution.selection.window import window_search
from submodular_attribution.torch_proxy import torch

INNER = ("greedy", "window")


def region_centroids(labels: torch.Tensor, m: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Centroids ``(m, 2)`` (row, column in pixels) and areas ``(m,)`` (pixels) of the regions of ``labels`` ``(H, W)``."""
    labels = labels.detach().cpu().long()
    rows, cols = torch.meshgrid(torch.arange(labels.shape[0]), torch.arange(labels.shape[1]), indexing="ij")
    flat = labels.flatten()
    area = torch.bincount(flat, minlength=m).double()
    sums = torch.stack([torch.bincount(flat, weights=c.flatten().double(), minlength=m) for c in (rows, cols)], dim=1)
    return sums / area.clamp_min(1)[:, None], area


def spatial_groups(centroids: torch.Tensor, groups: int, iterations: int = 20) -> list[list[int]]:
    """Partition regions into at most ``groups`` spatially compact groups: k-means on the ``(m, 2)`` centroids with a
    deterministic farthest-point start (from the region nearest the centroids' mean). Empty groups are dropped;
    each group lists its regions in index order."""
    m = centroids.shape[0]
    k = max(1, min(groups, m))
    first = int(torch.argmin(((centroids - centroids.mean(dim=0)) ** 2).sum(dim=1)))
    centres = [first]
    nearest = ((centroids - centroids[first]) ** 2).sum(dim=1)
    while len(centres) < k:
        far = int(torch.argmax(nearest))
        centres.append(far)
        nearest = torch.minimum(nearest, ((centroids - centroids[far]) ** 2).sum(dim=1))
    centre_xy = centroids[centres].clone()
    assign = torch.zeros(m, dtype=torch.long)
    for _ in range(iterations):
        assign = torch.cdist(centroids, centre_xy).argmin(dim=1)
        for g in range(k):
            members = assign == g
            if members.any():
                centre_xy[g] = centroids[members].mean(dim=0)
    return [torch.nonzero(assign == g).flatten().tolist() for g in range(k) if (assign == g).any()]


def group_masks(groups: list[list[int]], m: int) -> torch.Tensor:
    """``(len(groups), m)`` bool: row g keeps the regions of ``groups[g]``."""
    masks = torch.zeros(len(groups), m, dtype=torch.bool)
    for g, members in enumerate(groups):
        masks[g, members] = True
    return masks


@base.register_selector
class CoarseToFineSelector(Selector):
    """Greedy over merged super-regions, then greedy inside the best of them while the budget allows.

    1. The regions are merged into ``groups`` spatially compact groups (k-means on the region centroids; without
       a label map, consecutive indices). Plain greedy ranks the groups: each step scores S ∪ G for every
       remaining group G and appends the best. The score of S ∪ G is the curve point of the prefix that ends
       with G whatever order G's regions take inside it, so group boundaries cost no curve forwards.
    2. In the groups' order, each group's regions are ranked by plain greedy from the prefix before it while
       the budget allows (a group of s regions costs s(s - 1) forwards net of the curve points it yields);
       the other groups order their regions by their single-region target probability when the effectiveness
       setup forwarded the single regions, else by area (largest first).
    3. Prefixes not scored by the search are scored afterwards (2 forwards each, counted).

    With ``inner="window"`` step 2 is instead a window search (:func:`window_search`) over the prior "groups in
    their order, each by single-region probability or area", which scores every prefix it appends.

    Forwards with g groups: 1 (source image) + setup + g(g + 1) - 2 (coarse) + 2(m - g) (curves) + the
    refinements, at most ``forward_budget`` when the coarse step and the curves fit in it.

    Options: ``groups`` (super-regions g), ``inner`` (``greedy``: step 2 above, or ``window``), ``window`` (its
    width with ``inner="window"``), ``forward_budget`` (0 = refine every group; default 245).
    """

    name = "coarse"
    description = "ours: greedy over --groups spatial super-regions, then greedy inside the best within --forward-budget"

    options = (
        GROUPS.but(folder="groups-{value}"),
        Option("inner", str, "greedy", "order inside the groups by greedy (best groups first, within the budget) or by "
               "a --window search over the groups' order", choices=INNER,
               folder=lambda value, values: "greedy" if value == "greedy" else f"window-{values['window']}"),
        WINDOW.but(folder=None),
        FORWARD_BUDGET.but(default=245),
    )

    @classmethod
    def expected_forwards(cls, m: int, values: dict[str, Any], setup: int) -> int:
        """The budget, or (budget 0) the count for g groups of equal size."""
        g = max(1, min(values["groups"], m))
        sizes = [m // g + (1 if k < m % g else 0) for k in range(g)]
        unbounded = 1 + setup + g * (g + 1) - 2 + sum(s * (s + 1) - 2 for s in sizes) + 2
        return base.ForwardBudget.expected(values, least=0, unbounded=unbounded)

    def select(self, objective: Objective) -> base.Selection:
        m = objective.num_regions
        labels = getattr(objective, "labels", None)
        if labels is not None:
            centroids, area = region_centroids(labels, m)
            groups = spatial_groups(centroids, self.groups)
        else:
            area = torch.ones(m, dtype=torch.float64)
            groups = [chunk.tolist() for chunk in torch.arange(m).tensor_split(min(self.groups, m))]
        singles = getattr(objective, "singleton_probs", None)
        target = getattr(objective, "target", None)
        if singles is not None and target is not None:
            fallback_value = singles[:, target].detach().double().cpu()
        else:
            fallback_value = area
        budget = self.start_budget(objective)
        known: dict[int, dict[str, float]] = {}

        # 1. greedy over groups
        masks = group_masks(groups, m)
        chosen = torch.zeros(m, dtype=torch.bool)
        remaining = list(range(len(groups)))
        group_order: list[int] = []
        while len(remaining) > 1:
            candidates = chosen[None, :] | masks[remaining]
            scores = objective.score(candidates)
            budget.charge(2 * len(remaining))
            best = GreedySelector.best_index(scores.total)
            pick = remaining.pop(best)
            group_order.append(pick)
            chosen |= masks[pick]
            known[int(chosen.sum())] = scores.at(best)
        group_order += remaining

        if self.inner == "window":
            prior = [r for g in group_order for r in sorted(groups[g], key=lambda r: (-float(fallback_value[r]), r))]
            return window_search(objective, torch.as_tensor(prior), [], {}, budget, self.window)

        # 2. inside the groups, in their order
        boundaries = set(known)
        curve_cost = 2 * (m - len(known))  # every prefix not yet scored
        ranking: list[int] = []
        chosen = torch.zeros(m, dtype=torch.bool)
        for g in group_order:
            members = torch.as_tensor(groups[g])
            size = len(members)
            refine_net = size * (size - 1)  # s(s+1) - 2 forwards, minus the s - 1 curve points they give
            if size > 1 and budget.fits(refine_net, reserve=curve_cost):
                left = members
                while len(left) > 1:
                    best = append_best(objective, chosen, left, ranking, known)
                    budget.charge(2 * len(left))
                    curve_cost -= 2 if len(ranking) not in boundaries else 0
                    left = torch.cat([left[:best], left[best + 1:]])
                ranking.append(int(left[0]))
                chosen[int(left[0])] = True
            else:
                order = sorted(members.tolist(), key=lambda r: (-float(fallback_value[r]), r))
                ranking += order
                chosen[order] = True
        return base.complete_selection(objective, ranking, known)
