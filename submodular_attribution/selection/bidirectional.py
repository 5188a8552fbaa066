"""LiMA's bidirectional greedy (specs/smdl.md §3.2): a front list grown by argmax, a back list grown by argmin
over a few screened candidates, then the ranking front + reversed(back)."""

from __future__ import annotations

from typing import Any

from submodular_attribution.selection import base
from submodular_attribution.selection.base import Objective, Selection, Selector
from submodular_attribution.selection.greedy import GreedySelector
from submodular_attribution.selection.options import Option
from submodular_attribution.torch_proxy import torch


def bidirectional_forward_count(m: int, pending_samples: int, setup_forwards: int = 0) -> int:
    """Forwards of an explanation with :class:`BidirectionalSelector` on m regions (the json's ``forward_passes``)
    when the front's pick is never among the screened candidates (always so for λ2 = 0, where the proxy is
    F(S ∪ {c}) itself).

    1 for the source image; per step with c = |V ∖ (S ∪ D)| >= 2 remaining: 2c (front half) + 2P when c > P
    (back half); one region left is appended for free; 2 for the full and the empty image (the last curve
    point); plus the setup (m single-region images when λ2 != 0).
    """
    total, remaining = 1 + setup_forwards + 2, m
    while remaining >= 2:
        total += 2 * remaining
        if remaining > pending_samples:
            total += 2 * pending_samples
            remaining -= 2
        else:
            remaining -= 1
    return total


@base.register_selector
class BidirectionalSelector(Selector):
    """LiMA's search ("EfficientV2").

    Each step: the front half scores S ∪ {c} for all remaining c (2|C| forwards) and appends the argmax to S.
    While more than P candidates remain, the back half screens the P candidates with the smallest proxy
    G(c) = λ1·conf(S∪c) + λ2·eff(D∪c) + λ3·cons(S∪c) + λ4·colla(S∪c) (reusing the front's forwards; the
    front's pick is dropped from them), scores the prefixes V ∖ (D ∪ {c}) (2 forwards each: the same two
    images as D ∪ {c}, so F(D ∪ {c}) comes from them too) and appends argmin F(D ∪ {c}) to D. The ranking
    is S + reversed(D); the curves are the front's scores, then the back's prefix scores V ∖ D, then the full
    image: every point the real score of that prefix (spec's curve assembly). Needs a
    :class:`~submodular_attribution.objective.SubmodularObjective` (its ``lambdas``, ``distances`` and
    ``complement_confidence``).

    Options: ``pending_samples`` P, how many candidates the back half evaluates per step.
    """

    name = "bidirectional"
    exact = True  # on a modular F the screened P contain the minimum, so front and back agree with greedy
    description = "LiMA's bidirectional greedy (front argmax + back argmin over --pending-samples screened; ~1.5x fewer forwards)"

    options = (Option("pending_samples", int, 8, "candidates the backward half evaluates per step (LiMA: 8, classifiers 12)",
                      low=1, folder="pending-samples-{value}"),)

    @classmethod
    def expected_forwards(cls, m: int, values: dict[str, Any], setup: int) -> int:
        return bidirectional_forward_count(m, values["pending_samples"], setup)

    def select(self, objective: Objective) -> Selection:
        m = objective.num_regions
        lambdas = objective.lambdas
        distances = getattr(objective, "distances", None)
        front: list[int] = []
        back: list[int] = []
        front_known: dict[int, dict[str, float]] = {}
        back_scores: list[dict[str, float]] = []  # scores of V ∖ D after each back step
        in_front = torch.zeros(m, dtype=torch.bool)
        in_back = torch.zeros(m, dtype=torch.bool)
        bar = None
        if self.progress:
            from common.progress import progress_bar

            bar = progress_bar(total=m, desc="bidirectional", unit="region", leave=False)
        while True:
            candidates = torch.nonzero(~(in_front | in_back)).flatten()
            if len(candidates) == 0:
                break
            if len(candidates) == 1:
                front.append(int(candidates[0]))
                in_front[candidates[0]] = True
                break
            scores = objective.score(base.extended_subsets(in_front, candidates))
            best = GreedySelector.best_index(scores.total)
            pick = int(candidates[best])
            front.append(pick)
            in_front[pick] = True
            front_known[len(front)] = scores.at(best)
            if len(candidates) > self.pending_samples:
                back_pick, back_prefix = self._back_step(objective, candidates, scores, in_back, pick, lambdas, distances)
                back.append(back_pick)
                in_back[back_pick] = True
                back_scores.append(back_prefix)
            if bar is not None:
                bar.update(int(in_front.sum() + in_back.sum()) - bar.n)
        if bar is not None:
            bar.close()
        ranking = front + back[::-1]
        known = {j: v for j, v in front_known.items() if j < len(front)}
        for k, prefix in enumerate(back_scores, start=1):  # V ∖ D_k has m - k regions
            known[m - k] = prefix
        return base.complete_selection(objective, ranking, known)  # scores V (the full and the empty image)

    def _back_step(self, objective, candidates, front_scores, in_back, pick, lambdas, distances):
        """Screen, score V ∖ (D ∪ {c}) for the screened c, and return argmin F(D ∪ {c}) and its prefix scores."""
        back_with = base.extended_subsets(in_back, candidates)
        eff_back = self._effectiveness(distances, back_with)
        proxy = (
            lambdas.confidence * front_scores.confidence.cpu().double()
            + lambdas.effectiveness * eff_back
            + lambdas.consistency * front_scores.consistency.cpu().double()
            + lambdas.collaboration * front_scores.collaboration.cpu().double()
        )
        order = torch.argsort(proxy, stable=True)[: self.pending_samples]
        screened = sorted(int(i) for i in order if int(candidates[i]) != pick)  # ascending region ids
        back_sets = back_with[screened]
        prefix_scores = objective.score(~back_sets)  # prefixes V ∖ (D ∪ {c}); kept and complement swap roles
        back_total = (
            lambdas.confidence * prefix_scores.complement_confidence.cpu().double()
            + lambdas.effectiveness * eff_back[screened]
            + lambdas.consistency * (1.0 - prefix_scores.collaboration.cpu().double())
            + lambdas.collaboration * (1.0 - prefix_scores.consistency.cpu().double())
        )
        # ties go to the highest id: the back list is reversed, so the lowest id ends up first, as in greedy
        worst = len(screened) - 1 - GreedySelector.best_index(-back_total.flip(0))
        return int(candidates[screened[worst]]), prefix_scores.at(worst)

    @staticmethod
    def _effectiveness(distances: torch.Tensor | None, subsets: torch.Tensor) -> torch.Tensor:
        """eff(D ∪ {c}) per row of ``subsets`` ``(B, m)``, float64 on the CPU (0 without distances)."""
        from submodular_attribution.objective import effectiveness_scores

        if distances is None:
            return torch.zeros(len(subsets), dtype=torch.float64)
        return effectiveness_scores(distances, subsets.to(distances.device)).cpu().double()
