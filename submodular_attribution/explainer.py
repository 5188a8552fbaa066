"""The explainer: black box + region division + objective + selector -> :class:`Explanation`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from common.errors import ToolkitError
from models.base import BlackBox
from models.precision import autocast_dtype, check_search_dtype
from submodular_attribution.division import Division
from submodular_attribution.masking import make_fill
from submodular_attribution.objective import TERMS, Lambdas, SubmodularObjective
from submodular_attribution.selection import Selector, get_selector
from submodular_attribution.selection.base import prefix_masks

RESULT_VERSION = 1


@dataclass
class Explanation:
    """The result of explaining one image.

    Attributes:
        image: RGB uint8 ``(S, S, 3)``, the image at the model's input size (what was divided and masked).
        labels: int32 ``(S, S)`` region ids 0..m-1.
        ranking: the m region ids, most important first.
        curves: per ranked prefix j (0-based, j+1 regions), the terms ``confidence``, ``effectiveness``,
            ``consistency`` (p_t of the kept image), ``collaboration`` (1 - p_t of the complement) and ``total``.
        target: explained class; org_score = p_t(image); baseline_score = p_t(all regions removed).
        forward_passes: images forwarded through the model for this explanation; seconds: wall time.
        warnings: per-sample warnings (a one-region division, a target the model gives a low probability).
        extra: further json fields (division parameters, counterfactual record, evidential forwards, ...).
        forward_passes: images forwarded through the model for this explanation (= forward_passes_search +
            forward_passes_exact); seconds: wall time.
        forward_passes_exact: forwards spent re-scoring the ranking's prefixes in float32 after a bf16 search
            (0 with ``search_dtype="fp32"``: the search's own scores are then the curves).
        search_dtype: ``fp32`` or ``bf16``, the precision the selector's decisions were taken in.
    """

    image: np.ndarray
    labels: np.ndarray
    ranking: list[int]
    curves: dict[str, list[float]]
    target: int
    org_score: float
    baseline_score: float
    forward_passes: int
    seconds: float
    lambdas: Lambdas
    division: str
    selector: str
    model: str
    predicted: int
    extra: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    forward_passes_exact: int = 0
    search_dtype: str = "fp32"

    @property
    def num_regions(self) -> int:
        return len(self.ranking)

    def rank_map(self) -> np.ndarray:
        """int16 ``(S, S)``: the rank (0 = most important) of each pixel's region."""
        rank_of_region = np.empty(self.num_regions, dtype=np.int16)
        rank_of_region[np.asarray(self.ranking)] = np.arange(self.num_regions, dtype=np.int16)
        return rank_of_region[self.labels]

    def region_images(self) -> np.ndarray:
        """uint8 ``(m, S, S, 3)``: each region alone on black, in ranked order (the original's npy; RGB)."""
        masks = self.labels[None] == np.asarray(self.ranking)[:, None, None]
        return (self.image[None] * masks[..., None]).astype(np.uint8)

    def revealed_area(self) -> list[float]:
        """Fraction of the image covered by the first j+1 ranked regions, j = 0..m-1."""
        counts = np.bincount(self.labels.ravel(), minlength=self.num_regions)[self.ranking]
        return (np.cumsum(counts) / self.labels.size).tolist()

    def saliency_map(self) -> np.ndarray:
        """float32 ``(S, S)`` in (0, 1]: (m - rank) / m, the original's ``convert_smdl_mask`` scaled to 1."""
        return ((self.num_regions - self.rank_map().astype(np.float32)) / self.num_regions).astype(np.float32)

    def to_json(self, image_ref: str = "", class_names: list[str] | None = None,
                identity_key: str | None = None) -> dict[str, Any]:
        """The result json, built here only: the original's keys plus ours (``ranking``, ``region_area``,
        ``target``, ``warnings``, ``identity_key`` of the run folder when given, ...)."""
        lam = self.lambdas
        smdl = self.curves["total"]
        best = int(np.argmax(smdl)) if smdl else 0
        data: dict[str, Any] = {
            "sub-k": self.num_regions,
            "confidence_score": self.curves["confidence"],
            "effectiveness_score": self.curves["effectiveness"],
            "consistency_score": self.curves["consistency"],
            "collaboration_score": self.curves["collaboration"],
            "smdl_score": smdl,
            "lambda1": lam.confidence,
            "lambda2": lam.effectiveness,
            "lambda3": lam.consistency,
            "lambda4": lam.collaboration,
            "smdl_score_max": float(smdl[best]) if smdl else 0.0,
            "smdl_score_max_index": best,
            "org_score": self.org_score,
            "baseline_score": self.baseline_score,
            "ranking": [int(r) for r in self.ranking],
            "region_area": self.revealed_area(),
            "target": self.target,
            "predicted": self.predicted,
            "image": image_ref,
            "model": self.model,
            "division": self.division,
            "selector": self.selector,
            "forward_passes": self.forward_passes,
            "forward_passes_search": self.forward_passes - self.forward_passes_exact,
            "forward_passes_exact": self.forward_passes_exact,
            "search_dtype": self.search_dtype,
            "seconds": round(self.seconds, 3),
            "version": RESULT_VERSION,
        }
        if class_names:
            data["target_name"] = class_names[self.target]
            data["predicted_name"] = class_names[self.predicted]
        if "failure_label" in self.extra:
            failure = self.extra["failure_label"]
            data["failure_name"] = class_names[failure] if class_names else str(failure)
        if identity_key is not None:
            data["identity_key"] = identity_key
        data["warnings"] = list(self.warnings)
        data.update(self.extra)
        return data


class SubmodularExplainer:
    """Which few regions make the model say the target? Greedy submodular subset selection (SMDL).

    Args:
        blackbox: the model (``models.load_model``).
        division: a :class:`~submodular_attribution.division.Division`, or a division name (``slico``, ``seeds``,
            ``grid``, ...) and its keyword parameters (checked against its declared options).
        lambdas: weights of confidence, effectiveness, consistency, collaboration.
        selector: a selector name (``greedy``) and its options, or a built :class:`Selector`.
        fill: what removed pixels become: ``black`` (the original), ``mean`` or ``blur``.
        effectiveness_features: ``penultimate`` (pooled features) or ``logits`` (the output vector, as the
            original) for the effectiveness term's distances.
        confidence_term: replaces the entropy confidence (e.g. :class:`models.evidential.EvidentialConfidence`).
        min_target_prob: warn (and flag in the json) when p_t(image) is below it.
        record_counterfactual: LiMA's record of the full image's top-1 over the ranked prefixes (m more forwards).
        search_dtype: ``fp32``, or ``bf16``: the selector's forwards run under bfloat16 autocast (its decisions
            only), then every prefix of the final ranking is scored again in float32 (2m forwards, counted in
            ``forward_passes_exact``) and those scores are the curves. The full image and the effectiveness
            set-up are always float32. Refused on devices without native bf16 (:mod:`models.precision`).

    Example:
        >>> from models import load_model
        >>> explainer = SubmodularExplainer(load_model("efficientnet_lite0"), "grid", {"grid_size": 4})
        >>> explanation = explainer.explain(photo)            # RGB uint8, any size
        >>> explanation.ranking[:3], explanation.curves["consistency"][:3]
    """

    def __init__(
        self,
        blackbox: BlackBox,
        division: str | Division = "slico",
        division_params: dict[str, Any] | None = None,
        lambdas: Lambdas | None = None,
        selector: str | Selector = "greedy",
        selector_options: dict[str, Any] | None = None,
        fill: str = "black",
        effectiveness_features: str = "penultimate",
        confidence_term: Callable[[torch.Tensor], torch.Tensor] | None = None,
        min_target_prob: float = 0.0,
        record_counterfactual: bool = False,
        search_dtype: str = "fp32",
    ) -> None:
        check_search_dtype(search_dtype, blackbox.device)
        self.search_dtype = search_dtype
        self.confidence_term = confidence_term
        self.blackbox = blackbox
        self.effectiveness_features = effectiveness_features
        if not isinstance(division, Division):
            division = Division.from_values(division, **(division_params or {}))
        self.division = division
        self.lambdas = lambdas or Lambdas()
        self.selector = selector if isinstance(selector, Selector) else get_selector(selector, **(selector_options or {}))
        self.selector_name = self.selector.name
        self.fill = fill
        self.min_target_prob = float(min_target_prob)
        self.record_counterfactual = record_counterfactual
        make_fill(torch.zeros(3, 1, 1), fill)  # validate early: a bad --fill fails before any work

    def explain(self, image: np.ndarray, target: int | None = None, labels: np.ndarray | None = None,
                region_inputs: dict[str, Any] | None = None) -> Explanation:
        """Explain ``image`` (RGB uint8 ``H x W x 3``, resized to the model's input) for class ``target``
        (None = the model's top-1). ``labels`` overrides the division with a given ``(S, S)`` label map;
        ``region_inputs`` are the division's per-image inputs (a prior map, precomputed masks)."""
        start_time = time.perf_counter()
        start_forwards = self.blackbox.forward_count
        uncertainty = getattr(self.confidence_term, "uncertainty", None)
        uncertainty_before = uncertainty.forward_count if uncertainty is not None else 0
        image = self.blackbox.resize(image)
        if labels is None:
            labels = self.division.divide(image, region_inputs)
        x = self.blackbox.to_tensor(image)[0]
        self.blackbox.begin_sample(x)
        probs = self.blackbox.predict(x[None])[0]
        predicted = int(probs.argmax())
        target = self.blackbox.explained_target(target)
        target = predicted if target is None else int(target)
        if not 0 <= target < probs.shape[0]:
            raise ToolkitError(f"target class {target} is outside the model's {probs.shape[0]} classes")
        objective = SubmodularObjective(
            self.blackbox, x, torch.from_numpy(labels), target, self.lambdas, make_fill(x, self.fill),
            effectiveness_features=self.effectiveness_features,
            confidence_term=self.confidence_term,
            source_forwards=self.blackbox.forward_count - start_forwards,
        )
        with self.blackbox.autocast(autocast_dtype(self.search_dtype) or self.blackbox.amp):
            selection = self.selector.select(objective)
        exact_forwards = 0
        if self.search_dtype != "fp32":
            before_exact = self.blackbox.forward_count
            with self.blackbox.autocast(None):
                selection.curves = exact_curves(objective, selection.ranking)
            exact_forwards = self.blackbox.forward_count - before_exact
        # With every region ranked, the last complement is the empty image: p_t(baseline) = 1 - collaboration.
        baseline_score = 1.0 - selection.curves["collaboration"][-1]
        org_score = float(probs[target])
        extra: dict[str, Any] = {"predicted_score": float(probs[predicted]), "division_params": dict(self.division.params),
                                 "min_target_prob": self.min_target_prob,
                                 "low_target_prob": org_score < self.min_target_prob}
        warnings = []
        if objective.num_regions < 2:
            warnings.append(f"the division gives {objective.num_regions} region; the ranking is trivial")
        if org_score < self.min_target_prob:
            warnings.append(f"the model gives class {target} p = {org_score:.3g} on the full image (< --min-target-prob "
                            f"{self.min_target_prob}); the explanation is of a class the model does not see")
        if uncertainty is not None:
            extra["uncertainty_forward_passes"] = uncertainty.forward_count - uncertainty_before
        search_forwards = self.blackbox.forward_count - start_forwards
        if self.record_counterfactual:
            extra.update(counterfactual_record(objective, selection.ranking, probs, predicted))
        return Explanation(
            image=image,
            labels=labels,
            ranking=selection.ranking,
            curves=selection.curves,
            target=target,
            org_score=org_score,
            baseline_score=float(baseline_score),
            forward_passes=search_forwards,
            seconds=time.perf_counter() - start_time,
            lambdas=self.lambdas,
            division=self.division.name,
            selector=self.selector_name,
            model=self.blackbox.name,
            predicted=predicted,
            extra=extra,
            warnings=warnings,
            forward_passes_exact=exact_forwards,
            search_dtype=self.search_dtype,
        )


def counterfactual_record(objective: SubmodularObjective, ranking: list[int], probs: torch.Tensor,
                          failure: int) -> dict[str, Any]:
    """LiMA's ``--record-counterfactual``: the full image's top-1 ``failure`` (``failure_label``), the target's and
    its probability on the full image (``probs`` ``(C,)``, already forwarded), and ``failure_score``: its probability
    for every ranked prefix, aligned with ``consistency_score``, from the objective's kept images (m forwards)."""
    m = objective.num_regions
    before = objective.blackbox.forward_count
    kept = objective.kept_probabilities(prefix_masks(ranking, list(range(1, m + 1)), m))
    return {
        "failure_label": int(failure),
        "original_gt_score": float(probs[objective.target]),
        "original_failure_score": float(probs[failure]),
        "failure_score": [float(v) for v in kept[:, failure].cpu()],
        "counterfactual_forward_passes": objective.blackbox.forward_count - before,
    }


def exact_curves(objective: SubmodularObjective, ranking: list[int]) -> dict[str, list[float]]:
    """Every term of every prefix of ``ranking`` (first 1..m regions), scored in one batch of m subsets (2m
    forwards, in whatever precision the black box runs): ``{term: [m values]}`` as :class:`Explanation` curves."""
    m = objective.num_regions
    scores = objective.score(prefix_masks(ranking, list(range(1, m + 1)), m))
    return {name: getattr(scores, name).double().cpu().tolist() for name in (*TERMS, "total")}
