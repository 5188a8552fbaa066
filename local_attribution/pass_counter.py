"""Counting the images a network forwards and back-propagates (the cost unit of the LA benchmarks)."""

from __future__ import annotations

import torch
from torch import nn


class _Tally:
    """Pass counts shared by a :class:`PassCounter` and its deep copies (DeepLIFT deep-copies the model)."""

    def __init__(self) -> None:
        self.forward_images = 0
        self.backward_images = 0

    def __deepcopy__(self, memo: dict) -> _Tally:
        return self


class PassCounter(nn.Module):
    """Wraps a model; counts images forwarded and images whose output was back-propagated.

    A backward sweep is detected with a hook on the output tensor, so ``torch.autograd.grad`` calls and
    ``.backward()`` both count, once per sweep, as many images as the output has rows. Deep copies of the
    wrapper keep counting into the same tally.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.tally = _Tally()

    @property
    def forward_images(self) -> int:
        return self.tally.forward_images

    @property
    def backward_images(self) -> int:
        return self.tally.backward_images

    def reset(self) -> None:
        self.tally.forward_images = self.tally.backward_images = 0

    def _count_backward(self, rows: int):
        def hook(grad: torch.Tensor) -> None:
            self.tally.backward_images += rows

        return hook

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x)
        self.tally.forward_images += int(x.shape[0])
        if out.requires_grad:
            out.register_hook(self._count_backward(int(out.shape[0])))
        return out
