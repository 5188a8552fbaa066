"""Embedding black boxes for verification and retrieval (the face setting): the target is a reference embedding.

Any classifier of the registry is an embedding model through its pooled penultimate features φ(x). For one
reference r (the unmasked image's embedding, or ``--reference FILE``) the black box scores an image by the
cosine similarity s(x) = max(cos(φ(x), r), 0) (the paper's consistency is the cosine similarity to the target
feature; negative similarities count as "not the same") and returns the two-way distribution ``[s, 1 - s]``:
output 0 is "same as the reference", the one every sample explains. So

* consistency(S) = s(x_S): 1 for the full image against its own embedding;
* collaboration(S) = 1 - s(x_{V∖S});
* the entropy confidence is that of ``[s, 1 - s]`` (an uncertainty model can replace it);
* effectiveness uses the embeddings φ of the single-region images, as for classifiers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from common.errors import ToolkitError
from models.base import BlackBox, ImageClassifier

REFERENCE_CLASSES = ("same as the reference", "different from the reference")


def similarity_probabilities(embeddings: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """``[s, 1 - s]`` with ``s = clamp(cos, 0, 1)`` for ``embeddings`` ``(B, d)`` against ``reference`` ``(d,)`` -> ``(B, 2)``."""
    cos = torch.nn.functional.normalize(embeddings.double(), dim=-1) @ torch.nn.functional.normalize(reference.double(), dim=0)
    same = cos.clamp(0.0, 1.0).float()
    return torch.stack([same, 1.0 - same], dim=-1)


class EmbeddingBlackBox(BlackBox):
    """A registry model seen through its embedding; probabilities are similarities to a reference.

    Args:
        classifier: any :class:`~models.base.ImageClassifier`; its ``features`` are the embedding.
        reference: a fixed ``(d,)`` reference embedding; None = each sample's own unmasked embedding.
    """

    def __init__(self, classifier: ImageClassifier, device: str | torch.device = "cpu", batch_size: int = 32,
                 reference: torch.Tensor | None = None) -> None:
        super().__init__(classifier, device=device, batch_size=batch_size)
        self.fixed_reference = None if reference is None else reference.float().to(self.device)
        self.reference = self.fixed_reference

    @property
    def name(self) -> str:
        return f"embed:{self.classifier.name}"

    @property
    def num_classes(self) -> int:
        return len(REFERENCE_CLASSES)

    @property
    def class_names(self) -> list[str]:
        return list(REFERENCE_CLASSES)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Embeddings ``(N, d)`` of ``x`` ``(N, 3, S, S)`` in [0, 1] (counted forwards)."""
        return self._run(x, False, lambda _, features: features)

    def begin_sample(self, x: torch.Tensor) -> None:
        """Without ``--reference`` the unmasked image's own embedding is the reference (one forward)."""
        if self.fixed_reference is None:
            self.reference = self.embed(x[None])[0]

    def explained_target(self, label: int | None) -> int:
        return 0  # "same as the reference", whatever the eval list's identity label is

    def probabilities(self, logits: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        if self.reference is None:
            raise RuntimeError("EmbeddingBlackBox.begin_sample must run before predict when no reference is given")
        if features.shape[-1] != self.reference.shape[0]:
            raise ToolkitError(f"--reference has {self.reference.shape[0]} dimensions; the model's embedding has {features.shape[-1]}")
        return similarity_probabilities(features, self.reference)


def load_reference(path: str | Path, blackbox: EmbeddingBlackBox | None = None) -> torch.Tensor:
    """``--reference FILE``: a ``.npy`` embedding ``(d,)``, or an image whose embedding is taken with ``blackbox``."""
    path = Path(path)
    if not path.is_file():
        raise ToolkitError(f"--reference {path}: file not found (a .npy embedding or an image)")
    if path.suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except Exception as exc:  # noqa: BLE001
            raise ToolkitError(f"--reference {path}: cannot read ({exc.__class__.__name__}: {exc})") from exc
        array = np.squeeze(array)
        if array.ndim != 1 or not np.isfinite(array).all():
            raise ToolkitError(f"--reference {path}: expected a finite (d,) embedding, got shape {array.shape}")
        return torch.from_numpy(array.astype(np.float32))
    from common.images import load_image

    if blackbox is None:
        raise ValueError("an image reference needs the black box that embeds it")
    image = blackbox.resize(load_image(path))
    return blackbox.embed(blackbox.to_tensor(image))[0].cpu()
