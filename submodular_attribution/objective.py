"""The submodular objective F(S) = λ1·confidence + λ2·effectiveness + λ3·consistency + λ4·collaboration
for softmax classifiers (specs/smdl.md §3.1, with the classifier in place of CLIP).

* consistency(S)   = p_t(x_S), the target probability of the image that keeps only S;
* collaboration(S) = 1 - p_t(x_{V∖S}), one minus the target probability of the complement image;
* confidence(S)    = 1 - H(p(x_S)) / log C, with H(p) = -Σ p log(p + 1e-7), or a pluggable ``confidence_term``
  (the evidential 1 - K/Σα of an uncertainty model, :mod:`models.evidential`);
* effectiveness(S) = Σ_{i∈S} min_{j∈S, j≠i} d_ij, d_ij = arccos(cos(f_i, f_j)) / π on the pooled penultimate
  features f_i of the single-region images (precomputed, m forwards); 0 when |S| = 1. With
  ``effectiveness_features="logits"`` f_i is the model's output vector (logits), as the original, which reads
  the model's output.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch

from common.errors import ToolkitError
from models.base import BlackBox
from submodular_attribution.masking import compose_masked
from submodular_attribution.terms import EFFECTIVENESS_FEATURES, TERMS

__all__ = ["EFFECTIVENESS_FEATURES", "TERMS", "Lambdas", "SubmodularObjective", "TermScores"]


@dataclass(frozen=True)
class Lambdas:
    """Weights of the four terms; ``lambda1..4`` in the original CLI order."""

    confidence: float = 0.0  # λ1
    effectiveness: float = 0.05  # λ2
    consistency: float = 1.0  # λ3
    collaboration: float = 1.0  # λ4

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.confidence, self.effectiveness, self.consistency, self.collaboration)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def normalised_entropy_confidence(probs: torch.Tensor) -> torch.Tensor:
    """``1 - H(p)/log C`` for ``probs`` ``(B, C)`` -> ``(B,)``."""
    entropy = -(probs * torch.log(probs + 1e-7)).sum(dim=-1)
    return 1.0 - entropy / math.log(probs.shape[-1])


def angular_distances(features: torch.Tensor) -> torch.Tensor:
    """``arccos(clamp(cos(f_i, f_j), -1, 1)) / π`` for ``features`` ``(m, d)`` -> ``(m, m)`` in [0, 1]."""
    unit = torch.nn.functional.normalize(features.double(), dim=-1)
    return torch.arccos((unit @ unit.T).clamp(-1.0, 1.0)).float() / math.pi


def effectiveness_scores(distances: torch.Tensor, subsets: torch.Tensor) -> torch.Tensor:
    """Σ_{i∈S} min_{j∈S, j≠i} d_ij for each row of ``subsets`` ``(B, m)`` bool -> ``(B,)``.

    The diagonal counts as 1 (the largest distance), so a member with no other member nearer contributes 1
    — as the original's row-min of (d + I). Singletons score 0.
    """
    m = distances.shape[0]
    padded = distances + torch.eye(m, device=distances.device)
    blocked = torch.where(subsets[:, None, :], padded[None], torch.full_like(padded[None], float("inf")))
    nearest = blocked.min(dim=-1).values  # (B, m)
    total = torch.where(subsets, nearest, torch.zeros_like(nearest)).sum(dim=-1)
    return torch.where(subsets.sum(dim=-1) > 1, total, torch.zeros_like(total))


@dataclass
class TermScores:
    """Per-subset values ``(B,)`` of each term and of F."""

    confidence: torch.Tensor
    effectiveness: torch.Tensor
    consistency: torch.Tensor
    collaboration: torch.Tensor
    total: torch.Tensor
    complement_confidence: torch.Tensor | None = None  # 1 - H(p(x_{V∖S}))/log C, for scoring V∖S from the same forwards

    def at(self, index: int) -> dict[str, float]:
        return {name: float(getattr(self, name)[index]) for name in (*TERMS, "total")}


class SubmodularObjective:
    """F(S) for one image, one target and one region division, scored for batches of subsets.

    Args:
        blackbox: the model; every forward goes through it (and is counted).
        image: ``(3, H, W)`` float in [0, 1], already at the model's input size.
        labels: ``(H, W)`` long region ids 0..m-1.
        target: class index explained.
        lambdas: term weights.
        fill: ``(3, H, W)`` replacement for removed pixels (zeros = black, the original).
        effectiveness_features: ``penultimate`` (pooled features) or ``logits`` (the output vector) for the
            effectiveness distances.
        confidence_term: replaces the entropy confidence: called with a chunk of kept images ``(b, 3, H, W)``,
            returns ``(b,)`` (e.g. :class:`models.evidential.EvidentialConfidence`); skipped when λ1 = 0.

        source_forwards: forwards already spent on this image (the explainer's 1 for the source image), so a
            selector's forward budget counts every forward of the explanation.

    Attributes:
        setup_forwards: forwards spent in the constructor (the m single-region images when λ2 != 0).
        singleton_probs: ``(m, C)`` probabilities of the single-region images when they were forwarded, else None.
    """

    def __init__(
        self,
        blackbox: BlackBox,
        image: torch.Tensor,
        labels: torch.Tensor,
        target: int,
        lambdas: Lambdas,
        fill: torch.Tensor | None = None,
        effectiveness_features: str = "penultimate",
        confidence_term: Callable[[torch.Tensor], torch.Tensor] | None = None,
        source_forwards: int = 0,
    ) -> None:
        self.source_forwards = int(source_forwards)
        self.confidence_term = confidence_term
        self.blackbox = blackbox
        self.image = image.to(blackbox.device)
        self.labels = labels.to(blackbox.device).long()
        self.fill = torch.zeros_like(self.image) if fill is None else fill.to(blackbox.device)
        self.target = int(target)
        self.lambdas = lambdas
        self.num_regions = int(self.labels.max()) + 1
        self.distances: torch.Tensor | None = None
        self.singleton_probs: torch.Tensor | None = None
        self.setup_forwards = 0
        if lambdas.effectiveness != 0:
            singletons = torch.eye(self.num_regions, dtype=torch.bool, device=blackbox.device)
            self.singleton_probs, feats = self._predict(singletons, with_features=True)
            if effectiveness_features == "logits":
                if not isinstance(getattr(blackbox.classifier, "head", None), torch.nn.Module):
                    raise ToolkitError(f"--effectiveness-features logits: {blackbox.name} has no classifier head; use penultimate")
                with torch.inference_mode():
                    feats = blackbox.classifier.head(feats).float()  # the head is linear: logits from the same forward
            self.distances = angular_distances(feats)
            self.setup_forwards = self.num_regions

    def _predict(self, subsets: torch.Tensor, with_features: bool = False):
        """Probabilities (and features) of the images keeping ``subsets``, composed chunk by chunk."""
        step = self.blackbox.batch_size
        probs, feats = [], []
        for start in range(0, subsets.shape[0], step):
            batch = compose_masked(self.image, self.fill, self.labels, subsets[start : start + step])
            out = self.blackbox.predict(batch, with_features=with_features)
            if with_features:
                probs.append(out[0])
                feats.append(out[1])
            else:
                probs.append(out)
        if with_features:
            return torch.cat(probs), torch.cat(feats)
        return torch.cat(probs), None

    def _term_confidence(self, subsets: torch.Tensor) -> torch.Tensor:
        """``confidence_term`` on the kept images of ``subsets``, composed chunk by chunk -> ``(B,)``."""
        step = self.blackbox.batch_size
        values = [
            self.confidence_term(compose_masked(self.image, self.fill, self.labels, subsets[start : start + step])).to(self.image.device)
            for start in range(0, subsets.shape[0], step)
        ]
        return torch.cat(values)

    def kept_probabilities(self, subsets: torch.Tensor) -> torch.Tensor:
        """Class probabilities ``(B, C)`` of the images keeping ``subsets`` ``(B, m)`` bool: B forwards. With
        ``~subsets`` they are the complement images' (what :meth:`score` reads collaboration from)."""
        return self._predict(subsets.to(self.blackbox.device))[0]

    def score(self, subsets: torch.Tensor, kept_probs: torch.Tensor | None = None,
              complement_probs: torch.Tensor | None = None) -> TermScores:
        """All four terms and F for ``subsets`` ``(B, m)`` bool: 2B forwards (kept and complement images), one
        fewer per subset for each of ``kept_probs`` ``(B, C)`` (e.g. :attr:`singleton_probs`) and
        ``complement_probs`` ``(B, C)`` given (from :meth:`kept_probabilities` of the same or complement subsets)."""
        subsets = subsets.to(self.blackbox.device)
        kept = self._predict(subsets)[0] if kept_probs is None else kept_probs.to(self.blackbox.device)
        complement = self._predict(~subsets)[0] if complement_probs is None else complement_probs.to(self.blackbox.device)
        consistency = kept[:, self.target]
        collaboration = 1.0 - complement[:, self.target]
        if self.confidence_term is not None:
            confidence = self._term_confidence(subsets) if self.lambdas.confidence != 0 else torch.zeros_like(consistency)
        else:
            confidence = normalised_entropy_confidence(kept)
        if self.distances is not None:
            effectiveness = effectiveness_scores(self.distances, subsets)
        else:
            effectiveness = torch.zeros_like(consistency)
        lam = self.lambdas
        total = (
            lam.confidence * confidence
            + lam.effectiveness * effectiveness
            + lam.consistency * consistency
            + lam.collaboration * collaboration
        )
        return TermScores(confidence, effectiveness, consistency, collaboration, total,
                          normalised_entropy_confidence(complement))
