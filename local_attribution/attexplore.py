"""AttEXplore (Zhu et al., ICLR 2024) as run by the LA code, spec §3.3.

A momentum sign-gradient walk (10 steps, L-inf radius 16/255) that raises the confidence of y;
each step's gradient is averaged over N frequency-domain augmentations of the current point::

    x~_n = IDCT2(DCT2(x_k + xi_n) * M_n),   xi_n ~ N(0, sigma^2),   M_n ~ U[1 - rho, 1 + rho]
    g    = (1/N) sum_n grad_{x~_n} CE(model(DI(x~_n)), y)             CE = -log p_y (one softmax)
    g    = TI(g) / mean(|TI(g)|)                 7x7 Gaussian smoothing, per-sample L1 normalisation
    G_k  = mu * G_{k-1} + g
    x_{k+1} = clip_[0,1](x + clip_[-eps, eps](x_k - alpha * sign(G_k) - x))
    A   += -(x_{k+1} - x_k) * G_k

DI: with probability ``di_prob`` the image is resized to r in [H, int(H * di_resize_rate)),
zero-padded at a random offset to int(H * di_resize_rate) and resized back to H (bilinear).

Differences from the original code: CE of a single softmax (the original applied CE to softmax
outputs, a double softmax, spec §6.9); DI randomness is drawn per image instead of once per batch
call; runs on any device (the original hard-coded CUDA, spec §6.12: here the kernel lives on the
inputs' device and the noise is drawn on the CPU from per-sample generators); the final discarded gradient of the original is not computed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import AttributionMethod, LocalInfo, Model, RunOptions, progress_bar, sample_generators
from .gradients import add_rows_, chunk_slices, class_score_gradients
from .registry import register


def dct_matrix(n: int, *, device: torch.device | None = None, dtype: torch.dtype = torch.float64) -> Tensor:
    """``(n, n)`` DCT-II matrix with SciPy's ``norm=None`` scaling: ``D[k, j] = 2 cos(pi k (2j + 1) / 2n)``."""
    k = torch.arange(n, dtype=torch.float64).view(-1, 1)
    j = torch.arange(n, dtype=torch.float64).view(1, -1)
    return (2.0 * torch.cos(math.pi * k * (2 * j + 1) / (2 * n))).to(device=device, dtype=dtype)


def idct_matrix(n: int, *, device: torch.device | None = None, dtype: torch.dtype = torch.float64) -> Tensor:
    """``(n, n)`` inverse of :func:`dct_matrix` (SciPy's ``idct(type=2, norm=None)``)."""
    # x_j = (1 / 2n) * (y_0 + 2 sum_{k>=1} y_k cos(pi k (2j + 1) / 2n)), i.e. D^T scaled per column
    d = dct_matrix(n)
    scale = torch.full((n,), 0.5 / n, dtype=torch.float64)
    scale[0] = 0.25 / n
    return (d.T * scale.view(1, -1)).to(device=device, dtype=dtype)


def dct2(x: Tensor) -> Tensor:
    """2-D DCT-II over the last two axes (SciPy ``dctn(x, axes=(-2, -1), norm=None)``)."""
    dh = dct_matrix(x.shape[-2], device=x.device, dtype=x.dtype)
    dw = dct_matrix(x.shape[-1], device=x.device, dtype=x.dtype)
    return dh @ x @ dw.T


def idct2(y: Tensor) -> Tensor:
    """Inverse of :func:`dct2`."""
    ih = idct_matrix(y.shape[-2], device=y.device, dtype=y.dtype)
    iw = idct_matrix(y.shape[-1], device=y.device, dtype=y.dtype)
    return ih @ y @ iw.T


def gaussian_kernel(size: int = 7, nsig: float = 3.0, *, device=None, dtype=torch.float32) -> Tensor:
    """``(size, size)`` normalised Gaussian on ``linspace(-nsig, nsig, size)`` (the TI kernel)."""
    t = torch.linspace(-nsig, nsig, size, dtype=torch.float64)
    g = torch.exp(-0.5 * t**2)
    k = torch.outer(g, g)
    return (k / k.sum()).to(device=device, dtype=dtype)


def translation_invariant_smoothing(g: Tensor, kernel: Tensor) -> Tensor:
    """Depthwise convolution of ``(B, C, H, W)`` gradients with a 2-D kernel (zero padding)."""
    c = g.shape[1]
    w = kernel.to(g.dtype).expand(c, 1, *kernel.shape)
    return F.conv2d(g, w, padding=kernel.shape[-1] // 2, groups=c)


@dataclass(frozen=True)
class _DIParams:
    apply: bool
    size: tuple[int, int]
    pad: tuple[int, int, int, int]  # left, right, top, bottom


@register
class AttEXplore(AttributionMethod):
    """AttEXplore (transferable-attack exploration of the decision boundary).

    Attributes:
        epsilon: L-inf radius in [0, 1] units (16/255).
        n_steps: steps of the walk; alpha = epsilon / n_steps.
        n_samples: N frequency augmentations per step.
        sigma: std of the additive Gaussian noise (16/255).
        rho: spectrum mask range, M ~ U[1 - rho, 1 + rho].
        momentum: mu.
        ti_kernel_size, ti_nsig: the translation-invariance Gaussian kernel.
        di_prob, di_resize_rate: input diversity.
    """

    info = LocalInfo("attexplore", "AttEXplore", panel_label="AttEXplore", stochastic=True, default_batch_size=4)

    def _attribute(self, model: Model, x: Tensor, y: Tensor, opts: RunOptions) -> Tensor:
        assert opts.generator is not None
        gens = sample_generators(opts.generator, x.shape[0])
        kernel = gaussian_kernel(self.ti_kernel_size, self.ti_nsig, device=x.device, dtype=x.dtype)
        out = torch.zeros_like(x)
        groups = chunk_slices(x.shape[0], max(1, opts.batch_size // self.n_samples))
        bar = progress_bar(len(groups) * self.n_steps, "AttEXplore", opts.progress)
        for sl in groups:
            out[sl] = self._walk(model, x[sl], y[sl], gens[sl], kernel, opts.batch_size, bar)
        bar.close()
        return out

    def _walk(self, model, x0: Tensor, y: Tensor, gens, kernel: Tensor, batch_size: int, bar) -> Tensor:
        alpha = self.epsilon / self.n_steps
        acc = torch.zeros_like(x0)
        momentum = torch.zeros_like(x0)
        xk = x0
        for _ in range(self.n_steps):
            g = self._explored_gradient(model, xk, y, gens, batch_size)
            g = translation_invariant_smoothing(g, kernel)
            scale = g.abs().mean(dim=(1, 2, 3), keepdim=True)
            g = torch.where(scale > 0, g / scale.clamp_min(torch.finfo(g.dtype).tiny), g)
            momentum = self.momentum * momentum + g
            step = (xk - alpha * momentum.sign() - x0).clamp(-self.epsilon, self.epsilon)
            x_next = (x0 + step).clamp(self.clip_min, self.clip_max)
            acc -= (x_next - xk) * momentum
            xk = x_next
            bar.update()
        return acc

    def _explored_gradient(self, model, xk: Tensor, y: Tensor, gens, batch_size: int) -> Tensor:
        """``(1/N) sum_n grad CE`` at N augmentations of each point of ``xk``, ``(n, C, H, W)``."""
        n, c, h, w = xk.shape
        m = self.n_samples
        noise, mask, di = [], [], []
        for gen in gens:
            noise.append(torch.randn((m, c, h, w), generator=gen, dtype=torch.float64) * self.sigma)
            mask.append(1 - self.rho + 2 * self.rho * torch.rand((m, c, h, w), generator=gen, dtype=torch.float64))
            di.extend(self._draw_di(gen, h, w) for _ in range(m))
        noise = torch.stack(noise).to(device=xk.device, dtype=xk.dtype)
        mask = torch.stack(mask).to(device=xk.device, dtype=xk.dtype)
        aug = idct2(dct2(xk.unsqueeze(1) + noise) * mask).reshape(n * m, c, h, w)
        classes = y.repeat_interleave(m)
        total = torch.zeros_like(xk)
        for sl in chunk_slices(n * m, batch_size):
            params = di[sl]

            def diverse_model(z: Tensor, params=params) -> Tensor:
                return model(torch.cat([_input_diversity(z[r : r + 1], p) for r, p in enumerate(params)]))

            # grad of CE = -grad log p_y
            g, _ = class_score_gradients(diverse_model, aug[sl], classes[sl], "log_probability")
            add_rows_(total, torch.arange(sl.start, sl.stop) // m, -g)
        return total / m

    def _draw_di(self, gen: torch.Generator, h: int, w: int) -> _DIParams:
        big_h, big_w = int(h * self.di_resize_rate), int(w * self.di_resize_rate)
        apply = bool(torch.rand((), generator=gen) < self.di_prob)
        if big_h <= h:
            return _DIParams(False, (h, w), (0, 0, 0, 0))
        r = int(torch.randint(h, big_h, (), generator=gen))
        rw = min(big_w - 1, max(w, round(r * w / h)))
        top = int(torch.randint(0, big_h - r, (), generator=gen))
        left = int(torch.randint(0, big_w - rw, (), generator=gen))
        return _DIParams(apply, (r, rw), (left, big_w - rw - left, top, big_h - r - top))


def _input_diversity(z: Tensor, p: _DIParams) -> Tensor:
    """Resize ``(1, C, H, W)`` to ``p.size``, zero-pad by ``p.pad``, resize back to H x W."""
    if not p.apply:
        return z
    h, w = z.shape[-2:]
    z = F.interpolate(z, size=p.size, mode="bilinear", align_corners=False)
    z = F.pad(z, p.pad, value=0.0)
    return F.interpolate(z, size=(h, w), mode="bilinear", align_corners=False)
