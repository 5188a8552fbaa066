"""Tiny registered models for driver tests (in-process and ``python -m tests.toy_models ARGS`` subprocesses).

``toy`` and ``toy_b`` are linear models on channel means (16 x 16 input); ``toy_zero`` gives class 3 a
probability of ~0. ``TOY_SLEEP=seconds`` slows every forward (to kill a run mid-way).
"""

from __future__ import annotations

import os
import sys
import time

import torch
from torch import nn

from models.base import ImageClassifier
from models.registry import MODELS, ModelSpec
from tests.conftest import ChannelMeans


class _Slow(nn.Module):
    def __init__(self, inner: nn.Module, seconds: float) -> None:
        super().__init__()
        self.inner, self.seconds = inner, seconds

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(self.seconds)
        return self.inner(x)


def toy_classifier(seed: int = 0, zero_class: bool = False) -> ImageClassifier:
    gen = torch.Generator().manual_seed(seed)
    head = nn.Linear(3, 4)
    with torch.no_grad():
        head.weight.copy_(torch.randn(4, 3, generator=gen) * 4)
        head.bias.copy_(torch.randn(4, generator=gen))
        if zero_class:
            head.weight[3] = 0.0
            head.bias[3] = -200.0
    body: nn.Module = ChannelMeans()
    if float(os.environ.get("TOY_SLEEP", "0")) > 0:
        body = _Slow(body, float(os.environ["TOY_SLEEP"]))
    return ImageClassifier(body, head, (0.0,) * 3, (1.0,) * 3, 16, "toy", [f"class{i}" for i in range(4)]).eval()


TOY_SPECS = {
    "toy": ModelSpec("toy", lambda pretrained=True, weights=None: toy_classifier(0), "test model", True),
    "toy_b": ModelSpec("toy_b", lambda pretrained=True, weights=None: toy_classifier(1), "test model", True),
    "toy_zero": ModelSpec("toy_zero", lambda pretrained=True, weights=None: toy_classifier(0, True), "test model", True),
}


def register(monkeypatch=None) -> None:
    """Add the toy models to the registry (undone by ``monkeypatch`` when given)."""
    for name, spec in TOY_SPECS.items():
        if monkeypatch is not None:
            monkeypatch.setitem(MODELS, name, spec)
        else:
            MODELS[name] = spec


if __name__ == "__main__":
    register()
    from submodular_attribution.driver import run_preset

    sys.argv[0] = "tests.toy_models"
    run_preset("smdl_explanation_imagenet_superpixel")
