"""local_attribution.pass_counter: the forward / backward image counts of the LA benchmarks."""

from __future__ import annotations

import copy

import torch
from torch import nn

from local_attribution.pass_counter import PassCounter


def test_counts_images_forwarded_and_back_propagated_and_shares_the_tally_with_copies():
    counter = PassCounter(nn.Sequential(nn.Flatten(), nn.Linear(12, 3))).eval()
    x = torch.rand(5, 3, 2, 2, requires_grad=True)
    with torch.no_grad():
        counter(x[:2])
    assert (counter.forward_images, counter.backward_images) == (2, 0)
    out = counter(x)
    torch.autograd.grad(out[:, 0].sum(), x, retain_graph=True)  # one sweep through 5 rows
    out.sum().backward()  # another
    assert (counter.forward_images, counter.backward_images) == (7, 10)
    twin = copy.deepcopy(counter)  # DeepLIFT deep-copies the model: the copy counts into the same tally
    twin(x[:1]).sum().backward()
    assert (counter.forward_images, counter.backward_images) == (8, 11)
    counter.reset()
    assert (twin.forward_images, twin.backward_images) == (0, 0)
