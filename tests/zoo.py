"""Shared pieces of the tests of the dense attribution zoo (local_attribution): tiny conv nets on 3x16x16 inputs,
the plain one-image gradient the slow references use, the class draw of AGI/LA, a completeness check, and the
one-thread fixture (autouse in every module that imports it)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn

from local_attribution import get_method

NUM_CLASSES = 10
SIZE = 16

class ToyNet(nn.Module):
    """conv-relu-maxpool-conv-relu-avgpool-linear, 3x16x16 -> logits (moderately confident).

    ``reuse_relu`` calls one in-place ReLU module twice (like torchvision's ResNet blocks);
    ``smooth`` uses Softplus and average pooling (a smooth function, for quadrature tests).
    """

    def __init__(
        self, num_classes: int = NUM_CLASSES, *, reuse_relu: bool = False, smooth: bool = False, seed: int = 0
    ) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 12, 3, padding=1)
        self.pool = nn.AvgPool2d(2) if smooth else nn.MaxPool2d(2)
        self.head = nn.Linear(12 * 4, num_classes)
        with torch.no_grad():
            for p in self.parameters():
                std = 2.4 / p[0].numel() ** 0.5 if p.ndim > 1 else 0.1
                p.copy_(torch.randn(p.shape, generator=gen) * std)
        self.reuse_relu = reuse_relu
        if reuse_relu:
            self.relu = nn.ReLU(inplace=True)
        else:
            self.relu1 = nn.Softplus() if smooth else nn.ReLU()
            self.relu2 = nn.Softplus() if smooth else nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r1 = self.relu if self.reuse_relu else self.relu1
        r2 = self.relu if self.reuse_relu else self.relu2
        h = self.pool(r1(self.conv1(x - 0.5)))
        h = nn.functional.adaptive_avg_pool2d(r2(self.conv2(h)), 2)
        return self.head(h.flatten(1))


def toy_model(dtype: torch.dtype = torch.float64, **kw) -> ToyNet:
    return ToyNet(**kw).to(dtype).eval()


def toy_images(n: int = 4, dtype: torch.dtype = torch.float64, seed: int = 1) -> torch.Tensor:
    """Images in [0, 1] with a random colour cast each (so predictions vary)."""
    gen = torch.Generator().manual_seed(seed)
    cast = torch.rand((n, 3, 1, 1), generator=gen)
    return (0.6 * cast + 0.4 * torch.rand((n, 3, SIZE, SIZE), generator=gen)).to(dtype)


def grad_prob(model, x: torch.Tensor, cls: int) -> torch.Tensor:
    """Gradient of softmax(model(x))[0, cls] for one image ``(1, 3, H, W)``, the plain way."""
    x = x.clone().requires_grad_(True)
    p = model(x).softmax(dim=1)[0, cls]
    (g,) = torch.autograd.grad(p, x)
    return g


def with_softmax(model: nn.Module) -> nn.Module:
    return nn.Sequential(model, nn.Softmax(dim=1)).eval()


@pytest.fixture(autouse=True)
def single_thread():
    """Tiny models gain nothing from intra-op threads, and on a busy 2-core machine thread
    synchronisation made these tests ~10x slower."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)



def reference_classes(model, x: torch.Tensor, n: int, seed: int) -> tuple[int, list[int]]:
    """``(C, classes)``: the model's class count (one forward) and the ``n`` classes AGI and LA draw with ``seed``
    (``randperm(C)[:n]``, as the spec writes it)."""
    n_cls = model(x[:1]).shape[1]
    return n_cls, torch.randperm(n_cls, generator=torch.Generator().manual_seed(seed))[:n].tolist()


def bump(c: int, y: int, n_cls: int) -> int:
    """The collision rule of AGI and LA: a sampled class equal to the explained class moves to c + 1 (c - 1 at the
    last class)."""
    return c if c != y else (c + 1 if c < n_cls - 1 else c - 1)


def completeness_errors(name: str, settings: list[dict], model, x: torch.Tensor, batch: int) -> tuple[list[float],
                                                                                                 torch.Tensor]:
    """``(errors, gap)``: for each hyper-parameter setting, the largest ``|sum(map) - (p_y(x) - p_y(0))|`` over the
    images of ``x`` (y = the model's prediction), and the gaps ``(B,)`` themselves."""
    y = model(x).argmax(1)
    gap = (model(x).softmax(1) - model(torch.zeros_like(x)).softmax(1)).gather(1, y[:, None]).squeeze(1).detach()
    errors = []
    for hp in settings:
        total = get_method(name, **hp).attribute(model, x, y, internal_batch_size=batch).double().sum((1, 2, 3))
        errors.append(float((total - gap).abs().max()))
    return errors, gap


def exit_code_without_torch(module: str, argv: list[str]) -> tuple[list[str], str]:
    """Run ``module.main(argv)`` in a fresh interpreter: ``([exit code, whether torch got imported], stderr)``."""
    code = (f"import sys\nfrom {module.rpartition('.')[0]} import {module.rpartition('.')[2]} as g\n"
            f"try:\n    g.main({argv!r})\nexcept SystemExit as e:\n    print(e.code, 'torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    return out.stdout.split(), out.stderr
