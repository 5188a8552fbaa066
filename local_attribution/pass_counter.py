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


def _tally_count(field: str, doc: str) -> property:
    """A read-only property giving ``self.tally.<field>``."""
    return property(lambda self: getattr(self.tally, field), doc=doc)


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

    forward_images = _tally_count("forward_images", "images forwarded since the last :meth:`reset` (int)")
    backward_images = _tally_count("backward_images", "images whose output was back-propagated since the last "
                                                      ":meth:`reset`, once per backward sweep (int)")

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
