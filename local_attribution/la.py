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
* if the model has fewer than T - 1 classes, every class is used once;
* no redundant passes: the T paths of an image all start at x, so step 0 is one forward of x with one
  backward per path class (g_y once, g_t per targeted class); the untargeted path's target is y, so it
  takes one backward per step, not two; the class count comes from that first forward. Same maps
  (tests/test_local_attribution_la.py compares with the original pass structure at batch 1).
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

import torch
from torch import Tensor

from .base import (
    AttributionMethod,
    LocalInfo,
    Model,
    RunOptions,
    TargetLike,
    num_classes_of,
    progress_bar,
)
from .gradients import chunk_slices, multi_class_score_gradients, score_table
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
    return checked_sampling_range(num_classes_of(model, x), num_classes)


def checked_sampling_range(n_out: int, num_classes: int | None) -> int:
    """``num_classes`` (or ``n_out`` when None), refused when above the model's ``n_out`` outputs."""
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
class LocalAttribution(AttributionMethod):
    """Local Attribution.

    Attributes:
        spatial_range: s, the neighbourhood divisor: eps = x / s per element (larger s = smaller box).
        max_iter: K, steps per path.
        sampling_times: T; T - 1 targeted paths + 1 untargeted path.
        num_classes: classes to sample targets from (default: the model's number of outputs).
        clip_min, clip_max: valid input range.

    Cost per image (W = min(T - 1, classes) targeted paths): ``1 + (K - 1) (W + 1)`` images forward
    and ``W + 1 + (K - 1) (2 W + 1)`` images backward (T = K = 20: 381 and 761). All paths of an
    image start at x itself, so step 0 is one forward of x with W + 1 backward sweeps (g_y once, one
    g_t per class); the untargeted path needs only g_y (its target is y).

    Memory: at most ``internal_batch_size`` walker images hold autograd activations at once, plus
    two images of state (position, accumulator) per path of the samples in flight.

    Batch-size dependence: the map is NOT exactly independent of ``internal_batch_size``. Each step
    takes ``sign()`` of a gradient; where p_y is near 1 many gradient elements are at the level of
    float32 rounding noise, and batched kernels round differently for different batch sizes, so
    some signs flip and the paths diverge. Measured on EfficientNet-Lite0, 224 px, s = K = T = 20,
    float32 CPU: Spearman correlation of a photo's map between two internal batch sizes of 1, 2,
    4, 8, 16, 20, 64: 0.978-1 on 2 demo photos (4 and 8 give identical maps; the kernels change at
    1 and at 16 images per pass) (``python -m scripts.benchmark_la_batch``; README, "Local
    Attribution"); issue 14 measured 0.80-0.999 on 4 other photos (batch 20 vs 1). In float64 the
    differences vanish (the tests check 1e-9). What does hold exactly: when
    ``internal_batch_size < 2 T`` every sample is computed alone (its own chunks), so its map does not
    depend on the other samples of the call or on their number.
    """

    info = LocalInfo("la", "LA", panel_label="LA", stochastic=True, default_batch_size=64)

    cpu_internal_batch_size: ClassVar[int] = 4
    """Default ``internal_batch_size`` on the CPU, measured (README, "Local Attribution")."""
    accelerator_internal_batch_size: ClassVar[int] = 64
    """Default elsewhere (CUDA): the original batch size; not measured here (CPU-only machine)."""

    def default_internal_batch_size(self, device: torch.device | str) -> int:
        """Walker images per forward/backward when none is given: measured on CPU, 64 elsewhere."""
        is_cpu = torch.device(device).type == "cpu"
        return self.cpu_internal_batch_size if is_cpu else self.accelerator_internal_batch_size

    def attribute_parts(self, model: Model, inputs: Tensor, target: TargetLike = None, **options: Any) -> LAParts:
        """Like :meth:`attribute` (the same keyword-only ``options``: ``internal_batch_size``, ``generator``,
        ``progress``) but returns the targeted and untargeted terms separately (float32, ``(B, 3, H, W)`` each)."""
        parts = self._run(self._parts, model, inputs, target, **options)
        return LAParts(*(p.detach().to(torch.float32) for p in parts))

    def _attribute(self, model: Model, x: Tensor, target: Tensor, opts: RunOptions) -> Tensor:
        parts = self._parts(model, x, target, opts)
        return parts.targeted + parts.untargeted

    def _parts(self, model: Model, x: Tensor, y: Tensor, opts: RunOptions) -> LAParts:
        assert opts.generator is not None
        b = x.shape[0]
        # Samples whose paths are in flight together: one at a time unless a chunk holds 2 T walkers.
        groups = chunk_slices(b, max(1, opts.batch_size // self.sampling_times))
        bar = progress_bar(b * self.max_iter, "LA", opts.progress)
        targeted_sum, untargeted_sum = torch.zeros_like(x), torch.zeros_like(x)
        classes: Tensor | None = None
        n_cls = 0
        for sl in groups:
            # Step 0 at x itself: one forward, then g_y and one g_t per class.
            logits = _Step0(model, x[sl])
            if classes is None:  # drawn once per call, from the first forward's class count
                n_cls = checked_sampling_range(logits.n_classes, self.num_classes)
                classes = draw_target_classes(opts.generator, n_cls, self.sampling_times - 1)
            targets = avoid_collisions(classes, y[sl], n_cls)  # (g, W)
            grads = logits.gradients([y[sl], *targets.T])  # [g_y, g_t1, ..., g_tW], each (g, 3, H, W)
            acc_t, acc_u = self._walk_group(model, x[sl], y[sl], targets, grads, opts.batch_size)
            targeted_sum[sl] = acc_t
            untargeted_sum[sl] = acc_u
            bar.update(self.max_iter * (sl.stop - sl.start))
        bar.close()
        return LAParts(targeted_sum, untargeted_sum)

    def _walk_group(
        self, model: Model, x: Tensor, y: Tensor, targets: Tensor, grads: list[Tensor], batch_size: int
    ) -> tuple[Tensor, Tensor]:
        """Steps 1..K-1 of every path of ``g`` samples, from the step-0 gradients.

        Args:
            x: ``(g, 3, H, W)`` images; y: ``(g,)`` explained classes; targets: ``(g, W)``.
            grads: ``[g_y, g_t1, ..., g_tW]`` at x, each ``(g, 3, H, W)``.
            batch_size: walker images per forward/backward.

        Returns:
            The summed targeted accumulators and the untargeted accumulator, both ``(g, 3, H, W)``.
        """
        g, w = targets.shape
        eps = x / self.spatial_range
        g_y = grads[0]
        # Walkers sample-major: (sample i, path j) -> row i * (W + 1) + j; j == W is the untargeted path.
        t_all = torch.cat([targets, y.view(-1, 1)], dim=1)  # (g, W + 1)
        step_sign = torch.stack([*(gt.sign() for gt in grads[1:]), -g_y.sign()], dim=1)  # (g, W + 1, 3, H, W)
        x_rep = x.unsqueeze(1)
        x1 = (x_rep + eps.unsqueeze(1) * step_sign).clamp(self.clip_min, self.clip_max)
        acc = -g_y.unsqueeze(1) * (x1 - x_rep)  # (g, W + 1, 3, H, W)
        if self.max_iter > 1:
            rows = torch.arange(g * (w + 1), device=x.device)
            untargeted = rows % (w + 1) == w
            # Untargeted walkers need one backward per step, targeted ones two: never mix them in a chunk.
            flat_x1, flat_acc = x1.flatten(0, 1), acc.flatten(0, 1)
            for kind_rows in (rows[~untargeted], rows[untargeted]):
                for sl in chunk_slices(kind_rows.numel(), batch_size):
                    idx = kind_rows[sl]
                    sample = idx // (w + 1)
                    flat_acc[idx] = self._walk(
                        model, x[sample], eps[sample], flat_x1[idx], flat_acc[idx], t_all.flatten()[idx],
                        y[sample], targeted=bool(idx[0] % (w + 1) != w),
                    )
            acc = flat_acc.view_as(acc)
        return acc[:, :w].sum(dim=1), acc[:, w]

    def _walk(
        self, model: Model, x0: Tensor, eps: Tensor, xk: Tensor, acc: Tensor, t: Tensor, y: Tensor, targeted: bool
    ) -> Tensor:
        """Steps 1..K-1 for a chunk of walkers of one kind; returns their accumulators ``(n, 3, H, W)``.

        Targeted: ``x_{k+1} = clip(x0 + eps sign(g_t))``; untargeted (t == y, so g_t == g_y, one
        backward): ``x_{k+1} = clip(x0 - eps sign(g_y))``. Both add ``-g_y (x_{k+1} - x0)``.
        """
        for _ in range(1, self.max_iter):
            if targeted:
                (g_t, g_y), _, _ = multi_class_score_gradients(model, xk, (t, y), "probability")
                step = g_t.sign()
            else:
                (g_y,), _, _ = multi_class_score_gradients(model, xk, (y,), "probability")
                step = -g_y.sign()
            xk = (x0 + eps * step).clamp(self.clip_min, self.clip_max)
            acc = acc - g_y * (xk - x0)
        return acc


class _Step0:
    """One forward of ``x`` with autograd kept, for several per-sample class-probability gradients."""

    def __init__(self, model: Model, x: Tensor) -> None:
        self.x = x.detach().requires_grad_(True)
        self.probs = score_table(model(self.x), "probability")
        self.n_classes = int(self.probs.shape[1])

    def gradients(self, class_sets: list[Tensor]) -> list[Tensor]:
        """``grad_x p_{c[i]}(x_i)`` for every ``c`` of ``class_sets`` (each ``(g,)``); frees the graph."""
        out = []
        for j, c in enumerate(class_sets):
            score = self.probs.gather(1, c.view(-1, 1).to(self.probs.device)).sum()
            (grad,) = torch.autograd.grad(score, self.x, retain_graph=j < len(class_sets) - 1)
            out.append(grad)
        del self.probs
        return out
