"""DeepLIFT (rescale rule; Shrikumar et al., 2017) as run by the LA code, spec §3.10.

Captum's ``DeepLift`` on ``Sequential(model, Softmax(dim=1))`` with a zero baseline and target y,
so Captum is a runtime dependency of this method (imported when it is first used).

Made robust for arbitrary models:

* the model is deep-copied and every module's ``inplace`` flag is switched off (Captum reads the
  inputs of the non-linearities in hooks, which in-place ReLUs overwrite; the original used
  ReLU-separated copies of ResNet-50/VGG16 for that reason);
* ``nn.ReLU6`` (MobileNet/EfficientNet-Lite), which Captum has no rule for, is rewritten as
  ``ReLU(h) - ReLU(h - 6)``; both terms see the same input difference, so the rescale rule on the two
  ReLUs gives exactly the rescale multiplier of ReLU6;
* a non-linear module called several times per forward (torchvision's ResNet blocks call one
  ``self.relu`` two or three times) is replaced by a dispatcher holding one copy per call site, so
  Captum's per-module bookkeeping sees each call separately;
* samples are attributed one at a time: Captum's Softmax rule normalises its multipliers by a
  mean over the whole batch and its MaxPool rule reuses the first sample's gradient, which would
  make a map depend on the other samples of the batch. ``internal_batch_size`` is therefore not
  used.

Limits inherited from Captum: non-linearities called functionally (``F.relu``) or without a Captum
rule (GELU, SiLU, Hardswish, ...) pass plain gradients, and a non-linearity whose input tensor is also
used elsewhere (``relu(h) + h``) gets a wrong multiplier (Captum rewrites the gradient of that tensor).
"""

from __future__ import annotations

import copy
import warnings

import torch
from torch import Tensor, nn

from .base import AttributionMethod, LocalInfo, Model, RunOptions, progress_bar
from .registry import register


class _CallableModule(nn.Module):
    """Wrap a plain callable so Captum can hook it."""

    def __init__(self, fn: Model) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: Tensor) -> Tensor:
        return self.fn(x)


class _ReLU6AsReLUs(nn.Module):
    """``min(max(h, 0), 6)`` written with two ReLU modules Captum knows."""

    def __init__(self) -> None:
        super().__init__()
        self.low = nn.ReLU()
        self.high = nn.ReLU()

    def forward(self, h: Tensor) -> Tensor:
        # ``h + 0``: Captum rewrites the gradient of a non-linearity's input *tensor*; ``low`` needs a
        # tensor of its own, or its hook would also swallow the gradient reaching h through ``high``.
        return self.low(h + 0.0) - self.high(h - 6.0)


class _CallSites(nn.Module):
    """Stand-in for a module called ``n`` times per forward: call k uses ``sites[k]``."""

    def __init__(self, module: nn.Module, n: int) -> None:
        super().__init__()
        self.sites = nn.ModuleList(copy.deepcopy(module) for _ in range(n))
        self.calls = 0

    def forward(self, x: Tensor) -> Tensor:
        site = self.sites[self.calls % len(self.sites)]
        self.calls += 1
        return site(x)


def _supported_nonlinear() -> tuple[type[nn.Module], ...]:
    from captum.attr._core.deep_lift import SUPPORTED_NON_LINEAR

    return tuple(SUPPORTED_NON_LINEAR)


def prepare_for_deeplift(model: Model, example: Tensor) -> nn.Module:
    """``Sequential(prepared copy of model, Softmax(dim=1))`` for Captum's DeepLift (see module doc).

    Args:
        model: logits model.
        example: one input ``(1, C, H, W)`` used for a dry run that counts module calls.
    """
    net = copy.deepcopy(model) if isinstance(model, nn.Module) else _CallableModule(model)
    for m in net.modules():
        if getattr(m, "inplace", False) is True:
            m.inplace = False
    for parent in list(net.modules()):
        for child_name, child in list(parent.named_children()):
            if type(child) is nn.ReLU6:
                setattr(parent, child_name, _ReLU6AsReLUs())
    kinds = _supported_nonlinear()
    counts: dict[int, int] = {}
    handles = [
        m.register_forward_pre_hook(lambda mod, _inp: counts.__setitem__(id(mod), counts.get(id(mod), 0) + 1))
        for m in net.modules()
        if type(m) in kinds
    ]
    try:
        with torch.no_grad():
            net(example)
    finally:
        for h in handles:
            h.remove()
    dispatchers: dict[int, _CallSites] = {}
    for parent in list(net.modules()):
        for child_name, child in list(parent.named_children()):
            n = counts.get(id(child), 0)
            if n > 1:
                dispatchers.setdefault(id(child), _CallSites(child, n))
                setattr(parent, child_name, dispatchers[id(child)])

    def reset_calls(_mod: nn.Module, _inp: object) -> None:
        for d in dispatchers.values():
            d.calls = 0

    net.register_forward_pre_hook(reset_calls)
    wrapper = nn.Sequential(net, nn.Softmax(dim=1))
    wrapper.training = net.training
    return wrapper


@register
class DeepLIFT(AttributionMethod):
    """DeepLIFT with the rescale rule on the softmax probability of y.

    Attributes:
        baseline_value: constant baseline image value.
    """

    info = LocalInfo("deeplift", "DeepLIFT", panel_label="DeepLIFT", default_batch_size=4)

    def _attribute(self, model: Model, x: Tensor, y: Tensor, opts: RunOptions) -> Tensor:
        from captum.attr import DeepLift

        wrapper = prepare_for_deeplift(model, x[:1])
        explainer = DeepLift(wrapper)
        out = torch.empty_like(x)
        bar = progress_bar(x.shape[0], "DeepLIFT", opts.progress)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*Setting forward, backward hooks.*")
            warnings.filterwarnings("ignore", message=".*did not already require gradients.*")
            for i in range(x.shape[0]):
                xi = x[i : i + 1].clone()
                out[i : i + 1] = explainer.attribute(
                    xi, baselines=torch.full_like(xi, self.baseline_value), target=int(y[i])
                ).detach()
                bar.update()
        bar.close()
        return out
