"""Batched per-sample gradients shared by every method.

The original code computed its class losses as ``prob[:, classes].sum()``, which with a vector of
classes sums a B x B block and mixes the classes of all images of a batch (spec §2.6). Here every
sample's score is picked with ``gather``: ``scores[i] = F_{classes[i]}(x_i)``. Since the samples of
a batch do not interact, ``grad(sum_i scores[i], x)[i]`` is exactly ``grad F_{classes[i]}(x_i)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from .base import Model, check_logits, progress_bar

ScoreKind = Literal["probability", "log_probability", "logit"]
IntegrationMethod = Literal[
    "riemann_trapezoid", "riemann_left", "riemann_right", "riemann_middle", "gausslegendre"
]


def score_table(logits: Tensor, kind: ScoreKind = "probability") -> Tensor:
    """``(B, n_classes)`` scores of every class: softmax, log-softmax or the logits themselves."""
    check_logits(logits)
    if kind == "probability":
        return logits.softmax(dim=1)
    if kind == "log_probability":
        return logits.log_softmax(dim=1)
    if kind == "logit":
        return logits
    raise ValueError(f"unknown score kind {kind!r}; valid: probability, log_probability, logit")


def class_scores(logits: Tensor, classes: Tensor, kind: ScoreKind = "probability") -> Tensor:
    """``(B,)`` score of class ``classes[i]`` for sample i.

    ``kind``: ``"probability"`` = softmax(logits)[c], ``"log_probability"`` = log_softmax[c]
    (= minus the cross-entropy; numerically safe when p_c underflows), ``"logit"`` = logits[c].
    """
    return score_table(logits, kind).gather(1, classes.view(-1, 1).to(logits.device)).squeeze(1)


def multi_class_score_gradients(
    model: Model, x: Tensor, class_sets: Sequence[Tensor], kind: ScoreKind = "probability"
) -> tuple[list[Tensor], list[Tensor], Tensor]:
    """Gradients of several per-sample class scores at the same points, from one forward pass.

    Args:
        model: logits model.
        x: ``(B, C, H, W)`` points.
        class_sets: J tensors of shape ``(B,)``; set j asks for ``grad_x F_{class_sets[j][i]}(x_i)``.
        kind: see :func:`class_scores`.

    Returns:
        ``(grads, scores, logits)``: J gradients ``(B, C, H, W)``, J score vectors ``(B,)`` and the
        detached logits ``(B, n_classes)`` at ``x``.
    """
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        logits = model(x)
        table = score_table(logits, kind)
        scores = [table.gather(1, c.view(-1, 1).to(logits.device)).squeeze(1) for c in class_sets]
        grads = []
        for j, s in enumerate(scores):
            (g,) = torch.autograd.grad(s.sum(), x, retain_graph=j < len(scores) - 1)
            grads.append(g)
    return grads, [s.detach() for s in scores], logits.detach()


def class_score_gradients(
    model: Model, x: Tensor, classes: Tensor, kind: ScoreKind = "probability"
) -> tuple[Tensor, Tensor]:
    """Per-sample ``grad_x F_{classes[i]}(x_i)`` ``(B, C, H, W)`` and the scores ``(B,)``."""
    grads, scores, _ = multi_class_score_gradients(model, x, (classes,), kind)
    return grads[0], scores[0]


def chunk_slices(n: int, size: int) -> list[slice]:
    """``[0, n)`` cut into consecutive slices of at most ``size`` items."""
    if size < 1:
        raise ValueError(f"chunk size must be >= 1, got {size}")
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def fill_by_chunks(out: Tensor, batch_size: int, compute: Callable[[slice, object], Tensor], steps: int, desc: str,
                   progress: bool) -> Tensor:
    """``out[sl] = compute(sl, bar)`` for the chunks ``sl`` of ``batch_size`` rows of ``out`` ``(B, ...)``, one
    progress bar of ``steps`` updates per chunk shared by all of them; returns ``out``."""
    work = chunk_slices(out.shape[0], batch_size)
    bar = progress_bar(len(work) * steps, desc, progress)
    for sl in work:
        out[sl] = compute(sl, bar)
    bar.close()
    return out


def batched_class_score_gradients(
    model: Model, x: Tensor, classes: Tensor, kind: ScoreKind = "probability", *, batch_size: int
) -> tuple[Tensor, Tensor]:
    """:func:`class_score_gradients` over ``x`` in chunks of at most ``batch_size`` images."""
    grads, scores = [], []
    for sl in chunk_slices(x.shape[0], batch_size):
        g, s = class_score_gradients(model, x[sl], classes[sl], kind)
        grads.append(g)
        scores.append(s)
    return torch.cat(grads), torch.cat(scores)


def add_rows_(out: Tensor, index: Sequence[int] | Tensor, rows: Tensor) -> None:
    """``out[index[r]] += rows[r]`` for r = 0, 1, ... in order.

    Sequential on purpose: each sample's terms are summed in the same order however the work was
    chunked (``index_add_`` gives no such guarantee on every device).
    """
    idx = index.tolist() if isinstance(index, Tensor) else index
    for r, i in enumerate(idx):
        out[i] += rows[r]


def integration_rule(n_steps: int, method: IntegrationMethod = "riemann_trapezoid") -> tuple[Tensor, Tensor]:
    """Points ``alpha`` in [0, 1] and weights of a 1-D quadrature rule, as in Captum.

    Riemann rules use weights 1/n; ``riemann_trapezoid`` puts the points at linspace(0, 1, n) and
    halves the two end weights, so its weights sum to 1 - 1/n (Captum's quirk, kept because the
    original IG/BIG ran Captum's rule). ``gausslegendre`` weights sum to 1.

    Returns:
        ``(alphas, weights)``, two float64 tensors of shape ``(n_steps,)``.
    """
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    n = n_steps
    if method == "gausslegendre":
        nodes, w = np.polynomial.legendre.leggauss(n)
        return torch.from_numpy(0.5 * (nodes + 1.0)), torch.from_numpy(0.5 * w)
    weights = torch.full((n,), 1.0 / n, dtype=torch.float64)
    if method == "riemann_trapezoid":
        if n < 2:
            raise ValueError("riemann_trapezoid needs n_steps >= 2")
        alphas = torch.linspace(0.0, 1.0, n, dtype=torch.float64)
        weights[0] = weights[-1] = 0.5 / n
    elif method == "riemann_left":
        alphas = torch.linspace(0.0, 1.0 - 1.0 / n, n, dtype=torch.float64)
    elif method == "riemann_right":
        alphas = torch.linspace(1.0 / n, 1.0, n, dtype=torch.float64)
    elif method == "riemann_middle":
        alphas = torch.linspace(0.5 / n, 1.0 - 0.5 / n, n, dtype=torch.float64)
    else:
        raise ValueError(
            f"unknown integration method {method!r}; valid: riemann_trapezoid, riemann_left, "
            "riemann_right, riemann_middle, gausslegendre"
        )
    return alphas, weights


Baselines = Tensor | Callable[[Tensor, Tensor], Tensor]


def path_integral(
    model: Model,
    inputs: Tensor,
    classes: Tensor,
    alphas: Tensor,
    weights: Tensor,
    baselines: Baselines,
    *,
    kind: ScoreKind = "probability",
    batch_size: int,
    progress: bool = False,
    desc: str = "path integral",
) -> Tensor:
    """Weighted path sum shared by IG, BIG and Expected Gradients.

    ``A_i = sum_m w_im (x_i - b_im) * grad F_{c_i}(b_im + alpha_im (x_i - b_im))``

    Args:
        model: logits model.
        inputs: ``x``, ``(B, C, H, W)``.
        classes: ``c``, ``(B,)``.
        alphas: ``(M,)`` shared by all samples or ``(B, M)`` per sample.
        weights: same shape rules as ``alphas``.
        baselines: ``(B, C, H, W)`` (one baseline per sample), ``(B, M, C, H, W)``, or a function
            ``(sample_idx, path_idx) -> (n, C, H, W)`` that builds them on demand.
        kind: the differentiated score (see :func:`class_scores`).
        batch_size: largest number of path points per forward/backward pass.

    Returns:
        ``(B, C, H, W)`` attributions in the inputs' dtype.
    """
    n = inputs.shape[0]
    alphas = torch.as_tensor(alphas, dtype=torch.float64)
    weights = torch.as_tensor(weights, dtype=torch.float64)
    if alphas.ndim == 1:
        alphas = alphas.expand(n, -1)
    if weights.ndim == 1:
        weights = weights.expand(n, -1)
    m = alphas.shape[1]
    out = torch.zeros_like(inputs)
    work = chunk_slices(n * m, batch_size)
    bar = progress_bar(len(work), desc, progress)
    for sl in work:
        flat = torch.arange(sl.start, sl.stop)
        i, j = flat // m, flat % m
        if callable(baselines):
            b = baselines(i, j)
        elif baselines.ndim == inputs.ndim + 1:
            b = baselines[i, j]
        else:
            b = baselines[i]
        b = b.to(device=inputs.device, dtype=inputs.dtype)
        delta = inputs[i] - b
        a = alphas[i, j].to(device=inputs.device, dtype=inputs.dtype).view(-1, 1, 1, 1)
        g, _ = class_score_gradients(model, b + a * delta, classes[i], kind)
        w = weights[i, j].to(device=inputs.device, dtype=inputs.dtype).view(-1, 1, 1, 1)
        add_rows_(out, i, w * g * delta)
        bar.update()
    bar.close()
    return out
