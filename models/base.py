"""The black-box contract every method composes.

Two views of one network:

* :class:`ImageClassifier` is differentiable: ``x`` float ``(B, 3, S, S)`` RGB in [0, 1] -> logits ``(B, C)``,
  normalisation inside. Gradient methods (local_attribution, Grad-CAM, ...) take this.
* :class:`BlackBox` is what SMDL, the perturbation baselines and the evals use: it turns RGB uint8 images into
  tensors, runs the classifier under ``torch.inference_mode()`` in chunks of ``batch_size``, returns class
  probabilities (and pooled penultimate features when asked) and counts every image forwarded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

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

    @contextmanager
    def autocast(self, amp: str | None) -> Iterator[None]:
        """Run the forwards inside the block under ``amp`` (``"bf16"`` autocast, or None = float32) on any
        device, then restore the previous setting (the SMDL search's ``--search-dtype``)."""
        previous, self.amp = self.amp, amp
        try:
            yield
        finally:
            self.amp = previous

    def inference_network(self) -> ImageClassifier:
        """The network the no-gradient forwards run: a lean copy of :attr:`classifier` (BatchNorm folded,
        :func:`models.inference.lean_copy`), rebuilt when :attr:`classifier` is replaced."""
        if getattr(self, "_lean_source", None) is not self.classifier:
            from models.inference import lean_copy

            self._lean, self._lean_source = lean_copy(self.classifier), self.classifier
        return self._lean

    def _forward_with_features(self, chunk: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        forward = self._compiled or self.inference_network().forward_with_features
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
        return self._run(x, with_features, self.probabilities)

    def probabilities(self, logits: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """What :meth:`predict` returns for one chunk: softmax of the logits. Subclasses that score something
        else (an embedding's similarity to a reference) override this."""
        return logits.float().softmax(dim=-1)

    def begin_sample(self, x: torch.Tensor) -> None:
        """Called with the unmasked image ``(3, S, S)`` before it is explained; a no-op for classifiers."""

    def explained_target(self, label: int | None) -> int | None:
        """The output index explained for an eval-list ``label`` (None = the top-1); classifiers: the label."""
        return label

    def chunked(self, x: torch.Tensor,
                forward: Callable[[torch.Tensor, slice], tuple[torch.Tensor, ...]]) -> list[torch.Tensor] | None:
        """The one chunking loop: ``forward(chunk, rows)`` on ``x[rows]`` moved to the device (channels-last),
        ``batch_size`` images at a time; the outputs concatenated per position (None when ``x`` is empty).
        Adds N to :attr:`forward_count`. The caller sets the grad mode and any hooks around the call.

        Args:
            x: float ``(N, 3, S, S)`` in [0, 1].
            forward: ``(chunk (b, 3, S, S), rows slice) -> tuple of tensors with b rows``.
        """
        parts = []
        for start in range(0, x.shape[0], self.batch_size):
            rows = slice(start, start + self.batch_size)
            parts.append(forward(x[rows].to(self.device).contiguous(memory_format=torch.channels_last), rows))
        self.forward_count += int(x.shape[0])
        return [torch.cat(column) for column in zip(*parts)] if parts else None

    def _run(self, x: torch.Tensor, with_features: bool, transform) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        def forward(chunk: torch.Tensor, rows: slice) -> tuple[torch.Tensor, ...]:
            logits, feat = self._forward_with_features(chunk)
            probs = transform(logits, feat.float())
            return (probs, feat.float()) if with_features else (probs,)

        with torch.inference_mode():
            columns = self.chunked(x, forward)
        if columns is None:
            empty = torch.empty(0, self.num_classes, device=self.device)
            return (empty, torch.empty(0, 0, device=self.device)) if with_features else empty
        return (columns[0], columns[1]) if with_features else columns[0]

    def predict_images(self, images: np.ndarray) -> torch.Tensor:
        """Probabilities ``(B, C)`` for RGB uint8 images of any size (each resized to S x S first)."""
        arr = np.asarray(images)
        batch = arr[None] if arr.ndim == 3 else arr
        resized = np.stack([self.resize(img) for img in batch])
        return self.predict(self.to_tensor(resized))

    def predict_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, C)`` for ``x`` float ``(N, 3, S, S)`` in [0, 1]; chunked and counted like :meth:`predict`."""
        with torch.inference_mode():
            columns = self.chunked(x, lambda chunk, rows: (self.classifier(chunk).float(),))
        return columns[0] if columns else torch.empty(0, self.num_classes, device=self.device)

    def differentiable(self) -> nn.Module:
        """The classifier as a differentiable logits module ``(N, 3, S, S)`` in [0, 1] -> ``(N, C)`` that adds N to
        :attr:`forward_count` on every call (for gradient methods that run their own batching)."""
        return _CountedClassifier(self)

    def layer_activations(self, x: torch.Tensor, layer: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Activations ``(N, K, h, w)`` of ``layer`` (default :func:`default_cam_layer`) and logits ``(N, C)``.

        Chunked by ``batch_size`` under ``torch.inference_mode()``; adds N to :attr:`forward_count`.
        """
        layer = layer or default_cam_layer(self.classifier)
        with torch.inference_mode(), capture_layer_output(self.classifier, layer) as outputs:
            def forward(chunk: torch.Tensor, rows: slice) -> tuple[torch.Tensor, torch.Tensor]:
                outputs.clear()
                logits = self.classifier(chunk).float()
                return _spatial(outputs[-1], layer).float(), logits

            acts, logits = self.chunked(x, forward)
        return acts, logits

    def layer_gradients(self, x: torch.Tensor, target: torch.Tensor,
                        layer: str | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Activations ``A`` ``(N, K, h, w)`` of ``layer``, the gradient of the target logit with respect to them
        ``dy_c/dA`` (same shape), and the logits ``(N, C)``.

        ``target``: int64 ``(N,)``. One forward + backward per image, chunked by ``batch_size``; adds N to
        :attr:`forward_count`. The weights stay frozen; the graph is freed after each chunk.
        """
        layer = layer or default_cam_layer(self.classifier)
        with torch.enable_grad(), capture_layer_output(self.classifier, layer) as outputs:
            def forward(chunk: torch.Tensor, rows: slice) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
                outputs.clear()
                chunk_logits = self.classifier(chunk.requires_grad_(True))
                act = _spatial(outputs[-1], layer)
                score = chunk_logits.gather(1, target[rows].to(self.device).view(-1, 1)).sum()
                (grad,) = torch.autograd.grad(score, act)
                return act.detach().float(), grad.detach().float(), chunk_logits.detach().float()

            acts, grads, logits = self.chunked(x, forward)
        return acts, grads, logits


# Layer whose activations the CAM methods (Grad-CAM, Grad-CAM++, Score-CAM) weight, per architecture: the last
# spatial feature map before global pooling (as pytorch-grad-cam's README recommends). Names are relative to the
# ImageClassifier (so they start with "body.").
DEFAULT_CAM_LAYERS: dict[str, str] = {
    "efficientnet_lite0": "body._swish",  # ReLU6 after _conv_head + _bn1: (B, 1280, 7, 7)
    "resnet18": "body.layer4",
    "resnet50": "body.layer4",
    "resnet101": "body.layer4",
    "vgg16": "body.features.29",
    "vgg19": "body.features.35",
    "inception_v3": "body.Mixed_7c",
    "mobilenet_v2": "body.features",
    "efficientnet_b0": "body.features",
    "densenet121": "body.features",
    "convnext_tiny": "body.features",
}


def default_cam_layer(classifier: ImageClassifier) -> str:
    """Name of the CAM layer of ``classifier``: :data:`DEFAULT_CAM_LAYERS`, else its last ``nn.Conv2d``.

    Raises:
        ToolkitError: the network has no convolution (ViT-like models need an explicit ``--layer``).
    """
    from common.errors import ToolkitError

    if classifier.name in DEFAULT_CAM_LAYERS:
        return DEFAULT_CAM_LAYERS[classifier.name]
    convs = [name for name, module in classifier.named_modules() if isinstance(module, nn.Conv2d)]
    if not convs:
        raise ToolkitError(f"model {classifier.name}: no Conv2d layer for a CAM method; pass --layer NAME "
                           "(a module whose output is (B, K, h, w))")
    return convs[-1]


@contextmanager
def capture_layer_output(root: nn.Module, layer: str) -> Iterator[list[torch.Tensor]]:
    """Collect the outputs of module ``layer`` of ``root`` during the forwards run inside the block.

    Yields a list that receives one tensor per forward call (the module's output, graph kept so it can be
    differentiated). The hook is removed when the block exits, even on error.

    Raises:
        ToolkitError: no module of that name.
    """
    from common.errors import ToolkitError

    modules = dict(root.named_modules())
    if layer not in modules:
        raise ToolkitError(f"--layer {layer}: no such module in {getattr(root, 'name', 'the model')}; "
                           f"e.g. {', '.join(list(modules)[-3:])}")
    outputs: list[torch.Tensor] = []

    def hook(_module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
        outputs.append(output)

    handle = modules[layer].register_forward_hook(hook)
    try:
        yield outputs
    finally:
        handle.remove()



def _spatial(activation: torch.Tensor, layer: str) -> torch.Tensor:
    from common.errors import ToolkitError

    if not isinstance(activation, torch.Tensor) or activation.ndim != 4:
        shape = tuple(activation.shape) if isinstance(activation, torch.Tensor) else type(activation).__name__
        raise ToolkitError(f"--layer {layer}: output {shape} is not a (B, K, h, w) feature map; pick a convolutional layer")
    return activation


class _CountedClassifier(nn.Module):
    """See :meth:`BlackBox.differentiable`."""

    def __init__(self, blackbox: BlackBox) -> None:
        super().__init__()
        self.blackbox = blackbox
        self.classifier = blackbox.classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.blackbox.forward_count += int(x.shape[0])
        return self.classifier(x.to(self.blackbox.device))
