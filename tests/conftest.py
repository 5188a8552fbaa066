"""Shared fixtures: offline hub, headless matplotlib, a seed reset per test, toy and real black boxes."""

from __future__ import annotations

import os
import random

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from models.base import BlackBox, ImageClassifier  # noqa: E402


@pytest.fixture(autouse=True)
def reset_seeds():
    """Every test starts from the same global RNG state (Quantus-style), so order never matters."""
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    yield


class ChannelMeans(nn.Module):
    """Features = per-channel mean of the (normalised) image: ``(B, 3, H, W) -> (B, 3)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))


def toy_classifier(num_classes: int = 4, size: int = 16, seed: int = 0) -> ImageClassifier:
    """A tiny known model: logits = W · channel_means(x) + b (identity normalisation)."""
    gen = torch.Generator().manual_seed(seed)
    head = nn.Linear(3, num_classes)
    with torch.no_grad():
        head.weight.copy_(torch.randn(num_classes, 3, generator=gen) * 4)
        head.bias.copy_(torch.randn(num_classes, generator=gen))
    names = [f"class{i}" for i in range(num_classes)]
    return ImageClassifier(ChannelMeans(), head, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), size, "toy", names).eval()


@pytest.fixture
def toy_blackbox() -> BlackBox:
    return BlackBox(toy_classifier(), device="cpu", batch_size=5)


@pytest.fixture(scope="session")
def lite0_blackbox() -> BlackBox:
    from models import load_model

    return load_model("efficientnet_lite0", batch_size=16)


@pytest.fixture(scope="session")
def coffee() -> np.ndarray:
    from common.demo_images import load_demo_photo

    return load_demo_photo("coffee")
