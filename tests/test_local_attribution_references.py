"""Batched AGI, MFABA and Guided IG against slow one-image references written from the spec (§3.1,
§3.2, §3.7): loops per image, per class, per step, numpy float64 for Guided IG."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from local_attribution import get_method

from .zoo import (
    NUM_CLASSES,
    bump,
    completeness_errors,
    grad_prob,
    reference_classes,
    single_thread,  # noqa: F401 (an autouse fixture)
    toy_images,
    toy_model,
)


def slow_agi(model, x, y, *, epsilon, max_iter, topk, seed):
    n_cls, classes = reference_classes(model, x, topk, seed)
    out = []
    for i in range(x.shape[0]):
        xi, yi = x[i : i + 1], int(y[i])
        a = torch.zeros_like(xi)
        for c in classes:
            t = bump(c, yi, n_cls)
            xk, a_c = xi.clone(), torch.zeros_like(xi)
            for k in range(max_iter):
                if k > 0 and int(model(xk).argmax(1)) == t:
                    break  # attack reached its target
                g_t, g_y = grad_prob(model, xk, t), grad_prob(model, xk, yi)
                x_next = torch.clamp(xi + epsilon * torch.sign(g_t), 0, 1)
                a_c += -g_y * (x_next - xi)
                xk = x_next
            a = a + a_c
        out.append(a)
    return torch.cat(out)


def slow_mfaba(model, x, y, *, epsilon, step_size, n_steps):
    out = []
    for i in range(x.shape[0]):
        xi, yi = x[i : i + 1], int(y[i])
        xk, a = xi.clone(), torch.zeros_like(xi)
        for k in range(n_steps):
            if k > 0 and int(model(xk).argmax(1)) != yi:
                break  # the prediction left y
            g = grad_prob(model, xk, yi)
            x_next = torch.clamp(xi + torch.clamp(xk - step_size * torch.sign(g) - xi, -epsilon, epsilon), 0, 1)
            a += -(x_next - xk) * g
            xk = x_next
        out.append(a)
    return torch.cat(out)


def slow_guided_ig(model, x, y, *, steps, fraction, max_dist):
    """Guided IG on one image at a time in numpy float64, zero baseline."""
    out = []
    for i in range(x.shape[0]):
        x_in = x[i].numpy().astype(np.float64)
        base = np.zeros_like(x_in)

        def grad(z, i=i):
            return grad_prob(model, torch.from_numpy(z)[None].to(x.dtype), int(y[i]))[0].numpy().astype(np.float64)

        cur = base.copy()
        attr = np.zeros_like(x_in)
        l1_total = np.abs(x_in - base).sum()
        for step in range(steps):
            g_actual = grad(cur)
            g = g_actual.copy()
            alpha = (step + 1) / steps
            a_min, a_max = max(alpha - max_dist, 0.0), min(alpha + max_dist, 1.0)
            x_min, x_max = base + (x_in - base) * a_min, base + (x_in - base) * a_max
            l1_target = l1_total * (1 - (step + 1) / steps)
            gamma = math.inf
            while gamma > 1:
                old = cur.copy()
                with np.errstate(divide="ignore", invalid="ignore"):
                    pos = np.where(x_in != base, (cur - base) / (x_in - base), np.nan)
                pos[np.isnan(pos)] = a_max
                behind = pos < a_min
                cur[behind] = x_min[behind]
                l1_cur = np.abs(cur - x_in).sum()
                if math.isclose(l1_target, l1_cur, rel_tol=1e-9, abs_tol=1e-9):
                    attr += (cur - old) * g_actual
                    break
                g[cur == x_max] = np.inf
                threshold = np.quantile(np.abs(g), fraction, method="lower")
                sel = (np.abs(g) <= threshold) & (g != np.inf)
                l1_sel = (np.abs(cur - x_max) * sel).sum()
                gamma = (l1_cur - l1_target) / l1_sel if l1_sel > 0 else math.inf
                if gamma > 1:
                    cur[sel] = x_max[sel]
                else:
                    cur[sel] = (cur + (x_max - cur) * gamma)[sel]
                attr += (cur - old) * g_actual
        out.append(torch.from_numpy(attr))
    return torch.stack(out)


@pytest.mark.parametrize("internal_batch_size", [64, 5])
def test_agi_equals_the_slow_reference(internal_batch_size):
    model, x = toy_model(), toy_images(3)
    y = torch.tensor([2, 5, 5])
    hp = {"epsilon": 0.05, "max_iter": 5, "topk": 4}
    ours = get_method("agi", **hp).attribute(
        model, x, y, generator=torch.Generator().manual_seed(9), internal_batch_size=internal_batch_size
    )
    ref = slow_agi(model, x, y, seed=9, **hp)
    torch.testing.assert_close(ours, ref.float(), rtol=1e-6, atol=1e-12)


def test_agi_paths_stop_when_the_target_class_is_reached():
    model, x = toy_model(), toy_images(2)
    y = model(x).argmax(1)
    hp = {"epsilon": 0.3, "max_iter": 6, "topk": NUM_CLASSES}  # big steps: some attacks succeed early
    ours = get_method("agi", **hp).attribute(model, x, generator=torch.Generator().manual_seed(0))
    ref = slow_agi(model, x, y, seed=0, **hp)
    torch.testing.assert_close(ours, ref.float(), rtol=1e-6, atol=1e-12)
    n_cls = NUM_CLASSES
    stopped = 0
    for i in range(2):
        for c in range(n_cls):
            t = c if c != int(y[i]) else (c + 1 if c < n_cls - 1 else c - 1)
            xk = torch.clamp(x[i : i + 1] + 0.3 * torch.sign(grad_prob(model, x[i : i + 1], t)), 0, 1)
            stopped += int(model(xk).argmax(1)) == t
    assert stopped > 0, "the early-stop branch must be exercised"


@pytest.mark.parametrize("internal_batch_size", [64, 2])
def test_mfaba_equals_the_slow_reference(internal_batch_size):
    model, x = toy_model(), toy_images(3)
    y = model(x).argmax(1)
    y[2] = (y[2] + 1) % NUM_CLASSES  # stops after one step
    hp = {"epsilon": 0.05, "step_size": 0.02, "n_steps": 8}  # the L-inf box binds after 2 steps
    ours = get_method("mfaba", **hp).attribute(model, x, y, internal_batch_size=internal_batch_size)
    ref = slow_mfaba(model, x, y, **hp)
    torch.testing.assert_close(ours, ref.float(), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("internal_batch_size", [64, 1])
def test_guided_ig_equals_a_one_image_numpy_reference(internal_batch_size):
    model, x = toy_model(), toy_images(3)
    x[1, 2, :4] = 0.0  # features equal to the baseline never move
    y = torch.tensor([0, 4, 7])
    ours = get_method("guided_ig").attribute(model, x, y, internal_batch_size=internal_batch_size)
    ref = slow_guided_ig(model, x, y, steps=15, fraction=0.25, max_dist=0.02)
    torch.testing.assert_close(ours, ref.float(), rtol=1e-6, atol=1e-12)
    # with max_dist above 1/steps the guided window is wide and the selection does real work
    wide = get_method("guided_ig", steps=5, fraction=0.1, max_dist=0.3).attribute(model, x, y)
    ref_wide = slow_guided_ig(model, x, y, steps=5, fraction=0.1, max_dist=0.3)
    torch.testing.assert_close(wide, ref_wide.float(), rtol=1e-6, atol=1e-12)


def test_guided_ig_is_complete_on_a_smooth_model():
    # (On ReLU nets the guided path, which favours low-gradient features, converges slowly.)
    model, x = toy_model(smooth=True), toy_images(2)
    errors, gap = completeness_errors("guided_ig", [{"steps": 15}, {"steps": 200}], model, x, batch=2)
    assert errors[1] < errors[0] and errors[1] < 0.01 * float(gap.abs().max())
