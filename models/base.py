"""The black-box contract every method composes.

Two views of one network:

* :class:`ImageClassifier` is differentiable: ``x`` float ``(B, 3, S, S)`` RGB in [0, 1] -> logits ``(B, C)``,
  normalisation inside. Gradient methods (local_attribution, Grad-CAM, ...) take this.
* :class:`BlackBox` is what SMDL, the perturbation baselines and the evals use: it turns RGB uint8 images into
  tensors, runs the classifier under ``torch.inference_mode()`` in chunks of ``batch_size``, returns class
  probabilities (and pooled penultimate features when asked) and counts every image forwarded.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from common.images import resize_image


class ImageClassifier(nn.Module):
    """A classifier split into ``features`` (pooled penultimate activations) and a linear ``head``.

    Args:
        body: module mapping normalised ``(B, 3, S, S)`` to ``(B, d)`` features.
        head: module mapping ``(B, d)`` to logits ``(B, C)``.
        mean, std: per-channel normalisation applied to [0, 1] RGB inputs.
        input_size: side S of the square input the network expects.
        name: registry name.
        class_names: C names, index-aligned with the logits.
    """

    def __init__(
        self,
        body: nn.Module,
        head: nn.Module,
        mean: Sequence[float],
        std: Sequence[float],
        input_size: int,
        name: str,
        class_names: Sequence[str],
    ) -> None:
        super().__init__()
        self.body = body
        self.head = head
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))
        self.input_size = int(input_size)
        self.name = name
        self.class_names = list(class_names)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3, S, S)`` in [0, 1] -> pooled penultimate features ``(B, d)``."""
        return self.body(self.normalize(x)).flatten(1)

    def forward_with_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(B, C)`` and features ``(B, d)`` from one forward."""
        feats = self.features(x)
        return self.head(feats), feats

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3, S, S)`` in [0, 1] -> logits ``(B, C)``."""
        return self.head(self.features(x))


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None``/"auto" -> cuda when present, else cpu; otherwise the named device (clear error if absent)."""
    from common.errors import ToolkitError

    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise ToolkitError(f"--device {device}: not a device name; use cpu, cuda, cuda:N or auto") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ToolkitError(f"--device {device}: CUDA is not available on this machine; use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ToolkitError(f"--device {device}: only {torch.cuda.device_count()} CUDA device(s) here")
    elif dev.type != "cpu":
        raise ToolkitError(f"--device {device}: unsupported device type; use cpu, cuda, cuda:N or auto")
    return dev


class BlackBox:
    """A classifier seen as a black box over RGB images, with a forward counter.

    Args:
        classifier: the network (moved to ``device`` and put in eval mode).
        device: where to run.
        batch_size: maximum number of images per forward call (chunking).
    """

    def __init__(self, classifier: ImageClassifier, device: str | torch.device = "cpu", batch_size: int = 32) -> None:
        self.device = resolve_device(device)
        self.classifier = classifier.to(self.device).eval()
        for param in self.classifier.parameters():
            param.requires_grad_(False)
        # channels-last convolutions are ~2x faster on CPU for these nets; numerically equivalent.
        self.classifier.to(memory_format=torch.channels_last)
        self.batch_size = int(batch_size)
        self.forward_count = 0
        self.amp: str | None = None
        self._compiled = None

    def enable_fast_paths(self, amp: str | None = None, compile: bool = False) -> list[str]:
        """CUDA-only speed-ups: ``amp="bf16"`` runs forwards under bfloat16 autocast (probabilities still
        float32 softmax), ``compile`` wraps the network in ``torch.compile``. On any other device both are
        left off (CPU bf16 autocast is slower than float32 on most CPUs and compile's warm-up exceeds a
        typical run); returns one note per ignored request, for the caller to print."""
        notes = []
        if self.device.type != "cuda":
            if amp:
                notes.append(f"--amp {amp}: applies on CUDA only; ignored on {self.device.type} (float32 forwards)")
            if compile:
                notes.append(f"--compile: applies on CUDA only; ignored on {self.device.type} (eager forwards)")
            return notes
        self.amp = amp or None
        if compile:
            self._compiled = torch.compile(self.classifier.forward_with_features)
        return notes

    def _forward_with_features(self, chunk: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        forward = self._compiled or self.classifier.forward_with_features
        if self.amp == "bf16":
            with torch.autocast(self.device.type, dtype=torch.bfloat16):
                return forward(chunk)
        return forward(chunk)

    @property
    def name(self) -> str:
        return self.classifier.name

    @property
    def input_size(self) -> int:
        return self.classifier.input_size

    @property
    def num_classes(self) -> int:
        return self.classifier.num_classes

    @property
    def class_names(self) -> list[str]:
        return self.classifier.class_names

    def resize(self, image: np.ndarray) -> np.ndarray:
        """RGB uint8 ``H x W x 3`` -> ``S x S x 3`` (bilinear, like the originals' ``cv2.resize``)."""
        return resize_image(image, self.input_size)

    def to_tensor(self, images: np.ndarray) -> torch.Tensor:
        """RGB uint8 ``(H, W, 3)`` or ``(B, H, W, 3)`` -> float ``(B, 3, H, W)`` in [0, 1] on the device.

        No resizing: call :meth:`resize` first. Black (0) stays exactly 0, so masking in this space equals
        SMDL's masking in uint8 space before normalisation.
        """
        arr = np.asarray(images)
        if arr.ndim == 3:
            arr = arr[None]
        tensor = torch.from_numpy(np.ascontiguousarray(arr)).to(self.device)
        return tensor.permute(0, 3, 1, 2).float().div_(255.0)

    def predict(self, x: torch.Tensor, with_features: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Class probabilities ``(N, C)`` (and features ``(N, d)``) for ``x`` float ``(N, 3, S, S)`` in [0, 1].

        Runs in chunks of ``batch_size`` under ``torch.inference_mode()``; adds N to :attr:`forward_count`.
        """
        probs, feats = [], []
        with torch.inference_mode():
            for start in range(0, x.shape[0], self.batch_size):
                chunk = x[start : start + self.batch_size].to(self.device).contiguous(memory_format=torch.channels_last)
                logits, feat = self._forward_with_features(chunk)
                probs.append(logits.float().softmax(dim=-1))
                if with_features:
                    feats.append(feat.float())
        self.forward_count += int(x.shape[0])
        out = torch.cat(probs) if probs else torch.empty(0, self.num_classes, device=self.device)
        if with_features:
            return out, torch.cat(feats)
        return out

    def predict_images(self, images: np.ndarray) -> torch.Tensor:
        """Probabilities ``(B, C)`` for RGB uint8 images of any size (each resized to S x S first)."""
        arr = np.asarray(images)
        batch = arr[None] if arr.ndim == 3 else arr
        resized = np.stack([self.resize(img) for img in batch])
        return self.predict(self.to_tensor(resized))
