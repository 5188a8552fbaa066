"""Local Attribution (LA; Zhu et al., ACM MM 2024), spec §2.

For one image x with explained class y, neighbourhood radius eps = x / s (per element) and
K = max_iter steps, LA walks T paths that hop between corners of the box |x' - x| <= eps:

* T - 1 *targeted* paths, one per sampled class c (target t = c, or c +- 1 when c == y):
  ``x_{k+1} = clip(x + eps * sign(grad p_t(x_k)))``
* one *untargeted* path: ``x_{k+1} = clip(x - eps * sign(grad p_y(x_k)))``

Every step adds ``-grad p_y(x_k) * (x_{k+1} - x)`` (displacement measured from the ORIGINAL x) to
the path's accumulator; the attribution is the plain sum over the T paths. p is one softmax of
the model's logits.

Differences from the original code (spec §2.6, §6):
* per-sample gradients (gather) instead of the B x B ``prob[:, vector].sum()`` cross terms;
* ``target`` is honoured: y = target when given, else the argmax prediction (the original always
  used the prediction);
* the T - 1 classes are drawn once per call from ``generator``
  (``torch.randperm(num_classes, generator=generator)[:T - 1]``), shared by all samples, so a
  sample's map depends only on the seed and the sample itself (not on the batch or its position);
* if the model has fewer than T - 1 classes, every class is used once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import torch
from torch import Tensor

from .base import (
    AttributionMethod,
    Model,
    RunOptions,
    TargetLike,
    num_classes_of,
    progress_bar,
)
from .gradients import chunk_slices, multi_class_score_gradients
from .registry import register


class LAParts(NamedTuple):
    """The two terms of LA; the attribution is ``targeted + untargeted``. Shapes ``(B, 3, H, W)``."""

    targeted: Tensor
    """Sum of the T - 1 targeted paths."""
    untargeted: Tensor
    """The untargeted path: ``sum_k eps * |grad p_y(x_k)|`` (non-negative)."""


def draw_target_classes(generator: torch.Generator, num_classes: int, n: int) -> Tensor:
    """``n`` distinct classes of ``range(num_classes)``, uniformly without replacement, ``(n,)`` long (CPU)."""
    perm = torch.randperm(num_classes, generator=generator, device=generator.device)
    return perm[: min(n, num_classes)].cpu()


def sampling_range(model: Model, x: Tensor, num_classes: int | None) -> int:
    """Number of classes targets are drawn from: ``num_classes``, or the model's number of outputs."""
    n_out = num_classes_of(model, x)
    if num_classes is not None and num_classes > n_out:
        raise ValueError(f"num_classes={num_classes} exceeds the model's {n_out} outputs")
    return n_out if num_classes is None else num_classes


def avoid_collisions(classes: Tensor, y: Tensor, num_classes: int) -> Tensor:
    """Targets ``t[i, w] = classes[w]``, or ``classes[w] +- 1`` when it equals ``y[i]`` (spec §2.4).

    Args:
        classes: ``(W,)`` sampled classes.
        y: ``(B,)`` explained classes.

    Returns:
        ``(B, W)`` long targets.
    """
    c = classes.to(y.device).view(1, -1).expand(y.shape[0], -1)
    bumped = torch.where(c < num_classes - 1, c + 1, c - 1)
    return torch.where(c == y.view(-1, 1), bumped, c)


@register
@dataclass
class LocalAttribution(AttributionMethod):
    """Local Attribution.

    Attributes:
        spatial_range: s, the neighbourhood divisor: eps = x / s per element (larger s = smaller box).
        max_iter: K, steps per path.
        sampling_times: T; T - 1 targeted paths + 1 untargeted path.
        num_classes: classes to sample targets from (default: the model's number of outputs).
        clip_min, clip_max: valid input range.

    Cost per image: T * K forward passes and 2 * T * K backward passes.
    """

    name: ClassVar[str] = "la"
    display_name: ClassVar[str] = "LA"
    panel_label: ClassVar[str] = "LA"
    stochastic: ClassVar[bool] = True
    default_batch_size: ClassVar[int] = 64

    spatial_range: float = 20.0
    max_iter: int = 20
    sampling_times: int = 20
    num_classes: int | None = None
    clip_min: float = 0.0
    clip_max: float = 1.0

    def __post_init__(self) -> None:
        if self.spatial_range <= 0:
            raise ValueError(f"spatial_range must be > 0, got {self.spatial_range}")
        if self.max_iter < 1 or self.sampling_times < 1:
            raise ValueError("max_iter and sampling_times must be >= 1")
        if self.num_classes is not None and self.num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {self.num_classes}")

    def attribute_parts(
        self,
        model: Model,
        inputs: Tensor,
        target: TargetLike = None,
        *,
        internal_batch_size: int | None = None,
        generator: torch.Generator | None = None,
        progress: bool = False,
    ) -> LAParts:
        """Like :meth:`attribute` but returns the targeted and untargeted terms separately (float32)."""
        parts = self._run(self._parts, model, inputs, target, internal_batch_size, generator, progress)
        return LAParts(*(p.detach().to(torch.float32) for p in parts))

    def _attribute(self, model: Model, x: Tensor, target: Tensor, opts: RunOptions) -> Tensor:
        parts = self._parts(model, x, target, opts)
        return parts.targeted + parts.untargeted

    def _parts(self, model: Model, x: Tensor, y: Tensor, opts: RunOptions) -> LAParts:
        assert opts.generator is not None
        n_cls = sampling_range(model, x, self.num_classes)
        classes = draw_target_classes(opts.generator, n_cls, self.sampling_times - 1)
        n_paths = classes.numel() + 1  # the last path of every sample is the untargeted one

        b = x.shape[0]
        # Flat list of "walkers" (sample, path), sample-major. Path classes: targeted -> t, untargeted -> y.
        path_class = torch.cat([avoid_collisions(classes, y, n_cls), y.view(-1, 1)], dim=1).reshape(-1)
        sample_of = torch.arange(b, device=x.device).repeat_interleave(n_paths)
        untargeted = (torch.arange(b * n_paths, device=x.device) % n_paths) == n_paths - 1
        eps = x / self.spatial_range

        targeted_sum, untargeted_sum = torch.zeros_like(x), torch.zeros_like(x)
        work = chunk_slices(b * n_paths, opts.batch_size)
        bar = progress_bar(len(work) * self.max_iter, "LA", opts.progress)
        for sl in work:
            idx = sample_of[sl]
            acc = self._walk(model, x[idx], eps[idx], path_class[sl], y[idx], untargeted[sl], bar)
            # Sequential adds: each sample sums its paths in the same order however the walkers are chunked.
            for r, (i, u) in enumerate(zip(idx.tolist(), untargeted[sl].tolist(), strict=True)):
                (untargeted_sum if u else targeted_sum)[i] += acc[r]
        bar.close()
        return LAParts(targeted_sum, untargeted_sum)

    def _walk(
        self, model: Model, x0: Tensor, eps: Tensor, t: Tensor, y: Tensor, untargeted: Tensor, bar
    ) -> Tensor:
        """Run K steps for a batch of independent paths; returns their accumulators ``(n, 3, H, W)``.

        For untargeted paths ``t == y``, so ``g_t == g_y`` and the step is ``-sign(g_y)``.
        """
        direction = torch.where(untargeted, -1.0, 1.0).to(x0.dtype).view(-1, 1, 1, 1)
        acc = torch.zeros_like(x0)
        xk = x0
        for _ in range(self.max_iter):
            (g_t, g_y), _, _ = multi_class_score_gradients(model, xk, (t, y), "probability")
            x_next = (x0 + eps * (direction * g_t.sign())).clamp(self.clip_min, self.clip_max)
            acc -= g_y * (x_next - x0)
            xk = x_next
            bar.update()
        return acc
