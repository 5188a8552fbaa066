"""Evidential (EDL) confidence from an uncertainty model (specs/smdl.md §3.3).

With logits z of a K-class evidential network and an evidence scale s (1 for the CUB ResNet-101, 5 for the face
iResNet-100): evidence e = exp(clamp(s·z, -10, 10)), α = e + 1, uncertainty u = K / Σ_k α_k, and the confidence
term is 1 - u. The uncertainty model is any torchvision architecture of the registry loaded from
``--uncertainty-weights`` (its class count is read from the file), fed RGB normalised with mean = std = 0.5 as
the original EDL models.
"""

from __future__ import annotations

from pathlib import Path

import torch

from common.errors import ToolkitError
from models.base import BlackBox, ImageClassifier

EDL_MEAN = (0.5, 0.5, 0.5)
EDL_STD = (0.5, 0.5, 0.5)


def evidential_confidence(logits: torch.Tensor, evidence_scale: float = 1.0) -> torch.Tensor:
    """``1 - K / Σ α`` with ``α = exp(clamp(s·logits, -10, 10)) + 1``; ``logits`` ``(B, K)`` -> ``(B,)`` in (0, 1)."""
    alpha = torch.exp(torch.clamp(evidence_scale * logits.double(), -10.0, 10.0)) + 1.0
    return (1.0 - logits.shape[-1] / alpha.sum(dim=-1)).float()


class EvidentialConfidence:
    """The confidence term computed by an uncertainty black box on the kept images.

    Called with a chunk of kept images ``(B, 3, S, S)`` in [0, 1]; returns ``(B,)``. Its forwards are counted by
    its own black box (``uncertainty.forward_count``).
    """

    def __init__(self, uncertainty: BlackBox, evidence_scale: float = 1.0) -> None:
        self.uncertainty = uncertainty
        self.evidence_scale = float(evidence_scale)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return evidential_confidence(self.uncertainty.predict_logits(images), self.evidence_scale)


def load_uncertainty_model(name: str, weights: str | Path | None, device: str = "cpu", batch_size: int = 32) -> BlackBox:
    """The EDL network ``name`` (a torchvision architecture, e.g. ``resnet101``) from ``weights``.

    Raises:
        ToolkitError: unknown architecture, missing or mismatched weights file (names ``--uncertainty-weights``).
    """
    import torchvision

    from models.classifiers import TORCHVISION_HEADS, _detach_final_linear, _load_state_dict

    if name not in TORCHVISION_HEADS:
        raise ToolkitError(f"--uncertainty-model {name}: choose one of {', '.join(TORCHVISION_HEADS)}")
    if not weights:
        raise ToolkitError(f"--uncertainty-model {name} needs --uncertainty-weights FILE (the EDL network's state dict)")
    path = Path(weights)
    if not path.is_file():
        raise ToolkitError(f"--uncertainty-weights {path}: file not found (the {name} EDL state dict)")
    state = _load_state_dict(path)
    head_weight = state.get(TORCHVISION_HEADS[name] + ".weight")
    if head_weight is None or head_weight.ndim != 2:
        raise ToolkitError(f"--uncertainty-weights {path}: no {TORCHVISION_HEADS[name]}.weight, not a {name} state dict")
    num_classes = int(head_weight.shape[0])
    net = torchvision.models.get_model(name, weights=None, num_classes=num_classes)
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ToolkitError(f"--uncertainty-weights {path}: does not match torchvision {name} ({first})") from exc
    body, head = _detach_final_linear(net, TORCHVISION_HEADS[name])
    names = [f"class {i}" for i in range(num_classes)]
    classifier = ImageClassifier(body, head, EDL_MEAN, EDL_STD, 224, f"edl:{name}", names)
    return BlackBox(classifier, device=device, batch_size=batch_size)
