"""Adversarial Gradient Integration (AGI; Pan et al., 2021) as run by the LA code, spec §3.1.

For each of ``topk`` sampled classes c (target t = c, or c +- 1 when c == y), a path of at most
``max_iter`` steps with a constant radius eps:

    x_{k+1} = clip(x + eps * sign(grad p_t(x_k)))        (stepped from the ORIGINAL x)
    A_c    += -grad p_y(x_k) * (x_{k+1} - x)

A path stops (before step k >= 1) once the model's argmax at x_k equals t; step 0 always counts.
The attribution is the plain sum over the classes (the original's ``/ topk`` is commented out).

Differences from the original code: per-sample gradients (no B x B cross terms, spec §2.6);
``target`` is honoured (y = target, else the prediction); every finished path is dropped (the
original removed items from a list while iterating over it and could skip some, spec §6.16);
classes are drawn from ``generator`` over all classes (the original used Python's
``random.seed(3407); random.sample(range(999), 20)``, the same 20 classes for every batch).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import AttributionMethod, LocalInfo, Model, RunOptions, progress_bar
from .gradients import chunk_slices, multi_class_score_gradients
from .la import avoid_collisions, draw_target_classes, sampling_range
from .registry import register


@register
class AGI(AttributionMethod):
    """Adversarial Gradient Integration.

    Attributes:
        epsilon: step radius in [0, 1] pixel units (0.05 = 12.75/255).
        max_iter: steps per class path.
        topk: number of sampled target classes (all classes if the model has fewer).
        num_classes: classes to sample from (default: the model's number of outputs).
    """

    info = LocalInfo("agi", "AGI", panel_label="AGI", stochastic=True, default_batch_size=64)

    def _attribute(self, model: Model, x: Tensor, y: Tensor, opts: RunOptions) -> Tensor:
        assert opts.generator is not None
        n_cls = sampling_range(model, x, self.num_classes)
        classes = draw_target_classes(opts.generator, n_cls, self.topk)
        n_paths = classes.numel()
        b = x.shape[0]
        path_class = avoid_collisions(classes, y, n_cls).reshape(-1)
        sample_of = torch.arange(b, device=x.device).repeat_interleave(n_paths)

        out = torch.zeros_like(x)
        work = chunk_slices(b * n_paths, opts.batch_size)
        bar = progress_bar(len(work) * self.max_iter, "AGI", opts.progress)
        for sl in work:
            idx = sample_of[sl]
            acc = self._walk(model, x[idx], path_class[sl], y[idx], bar)
            for r, i in enumerate(idx.tolist()):
                out[i] += acc[r]
        bar.close()
        return out

    def _walk(self, model: Model, x0: Tensor, t: Tensor, y: Tensor, bar) -> Tensor:
        acc = torch.zeros_like(x0)
        xk = x0.clone()
        active = torch.arange(x0.shape[0], device=x0.device)
        for k in range(self.max_iter):
            (g_t, g_y), _, logits = multi_class_score_gradients(model, xk[active], (t[active], y[active]))
            if k > 0:
                keep = logits.argmax(dim=1) != t[active]
                active, g_t, g_y = active[keep], g_t[keep], g_y[keep]
                if active.numel() == 0:
                    break
            base = x0[active]
            x_next = (base + self.epsilon * g_t.sign()).clamp(self.clip_min, self.clip_max)
            acc[active] -= g_y * (x_next - base)
            xk[active] = x_next
            bar.update()
        return acc
