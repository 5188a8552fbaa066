"""Local Attribution: the fast batched implementation against a slow reference written straight from
the spec's pseudo-code (§2.4-2.5), plus LA's own properties."""

from __future__ import annotations

import pytest
import torch

from local_attribution import LocalAttribution, get_method
from local_attribution.la import avoid_collisions

from .test_local_attribution_methods import (  # noqa: F401  (single_thread: autouse fixture)
    NUM_CLASSES,
    grad_prob,
    single_thread,
    toy_images,
    toy_model,
)


def slow_la(model, x, y, *, spatial_range, max_iter, sampling_times, seed):
    """Spec §2.5, one image, one class, one step at a time (classes: randperm(C)[:T-1] of the seed)."""
    n_cls = model(x[:1]).shape[1]
    classes = torch.randperm(n_cls, generator=torch.Generator().manual_seed(seed))[: sampling_times - 1]
    out = []
    for i in range(x.shape[0]):
        xi, yi = x[i : i + 1], int(y[i])
        eps = xi / spatial_range
        a = torch.zeros_like(xi)
        for c in classes.tolist():
            t = c if c != yi else (c + 1 if c < n_cls - 1 else c - 1)
            xk, a_c = xi.clone(), torch.zeros_like(xi)
            for _ in range(max_iter):
                g_t, g_y = grad_prob(model, xk, t), grad_prob(model, xk, yi)
                x_next = torch.clamp(xi + eps * torch.sign(g_t), 0, 1)
                a_c += -g_y * (x_next - xi)
                xk = x_next
            a = a + a_c
        xk, a_u = xi.clone(), torch.zeros_like(xi)
        for _ in range(max_iter):
            g_y = grad_prob(model, xk, yi)
            x_next = torch.clamp(xi - eps * torch.sign(g_y), 0, 1)
            a_u += -g_y * (x_next - xi)
            xk = x_next
        out.append(a + a_u)
    return torch.cat(out)


HP = {"spatial_range": 20, "max_iter": 4, "sampling_times": 5}


@pytest.mark.parametrize("given_target", [False, True])
@pytest.mark.parametrize("internal_batch_size", [64, 7])
def test_fast_la_equals_the_slow_reference(given_target, internal_batch_size):
    model, x = toy_model(), toy_images(3)
    x[0, 0, :2] = 1.0  # bright pixels: the upper clip binds (x + x/s > 1)
    pred = model(x).argmax(1)
    # Targets inside the sampled set exercise the collision rule c -> c +- 1.
    classes = torch.randperm(NUM_CLASSES, generator=torch.Generator().manual_seed(5))[:4]
    y = torch.tensor([int(classes[0]), int(classes[1]), 9]) if given_target else pred
    ours = get_method("la", **HP).attribute(
        model, x, y if given_target else None, generator=torch.Generator().manual_seed(5),
        internal_batch_size=internal_batch_size,
    )
    ref = slow_la(model, x, y, seed=5, **HP)
    torch.testing.assert_close(ours, ref.float(), rtol=1e-6, atol=1e-12)


def test_la_uses_every_class_once_when_the_model_has_fewer_than_t_minus_1():
    model, x = toy_model(), toy_images(2)
    hp = {"spatial_range": 10, "max_iter": 2, "sampling_times": 25}
    ours = get_method("la", **hp).attribute(model, x, generator=torch.Generator().manual_seed(1))
    ref = slow_la(model, x, model(x).argmax(1), seed=1, **hp)
    torch.testing.assert_close(ours, ref.float(), rtol=1e-6, atol=1e-12)


def test_la_gives_exactly_zero_where_the_input_is_zero():
    model, x = toy_model(), toy_images(2)
    x[0, 1] = 0.0  # one whole channel
    x[1, :, 3:7, 5:9] = 0.0  # a black patch
    parts = get_method("la", **HP).attribute_parts(model, x)
    total = get_method("la", **HP).attribute(model, x)
    zero = x == 0
    for a in (total, parts.targeted, parts.untargeted):
        assert torch.all(a[zero] == 0)
    assert (total[~zero] != 0).float().mean() > 0.9


def test_la_untargeted_part_is_non_negative_and_parts_sum_to_the_map():
    model, x = toy_model(), toy_images(3)
    la = get_method("la", **HP)
    parts = la.attribute_parts(model, x, generator=torch.Generator().manual_seed(2))
    assert torch.all(parts.untargeted >= 0) and parts.untargeted.sum() > 0
    assert (parts.targeted < 0).any() and (parts.targeted > 0).any()
    total = la.attribute(model, x, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(total, parts.targeted + parts.untargeted)
    only_untargeted = get_method("la", **{**HP, "sampling_times": 1}).attribute_parts(model, x)
    assert torch.all(only_untargeted.targeted == 0)
    torch.testing.assert_close(only_untargeted.untargeted, parts.untargeted)


def test_la_same_seed_same_map_and_different_seed_different_map():
    model, x = toy_model(), toy_images(3)
    la = get_method("la", **HP)
    a = la.attribute(model, x, generator=torch.Generator().manual_seed(3))
    b = la.attribute(model, x, generator=torch.Generator().manual_seed(3), internal_batch_size=4)
    c = la.attribute(model, x, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, la.attribute(model, x, generator=torch.Generator().manual_seed(3)))
    torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-12)
    assert not torch.allclose(a, c)


def test_la_map_of_a_sample_does_not_depend_on_the_other_samples():
    model, x = toy_model(), toy_images(4)
    la = get_method("la", **HP)
    ref = la.attribute(model, x, generator=torch.Generator().manual_seed(6))
    changed = x.clone()
    changed[[0, 1, 3]] = toy_images(3, seed=42)
    again = la.attribute(model, changed, generator=torch.Generator().manual_seed(6))
    torch.testing.assert_close(again[2], ref[2], rtol=1e-9, atol=1e-15)
    assert not torch.allclose(again[0], ref[0])
    alone = la.attribute(model, x[2:3], generator=torch.Generator().manual_seed(6))
    torch.testing.assert_close(alone[0], ref[2], rtol=1e-9, atol=1e-15)


def test_la_target_changes_the_explained_class():
    model, x = toy_model(), toy_images(2)
    la = get_method("la", **HP)
    pred = model(x).argmax(1)
    torch.testing.assert_close(la.attribute(model, x), la.attribute(model, x, pred), rtol=0, atol=0)
    assert not torch.allclose(la.attribute(model, x), la.attribute(model, x, (pred + 1) % NUM_CLASSES))


def test_collision_rule_moves_the_predicted_class_to_a_neighbour():
    classes = torch.tensor([0, 3, 9])
    y = torch.tensor([3, 9, 0])
    assert avoid_collisions(classes, y, 10).tolist() == [[0, 4, 9], [0, 3, 8], [1, 3, 9]]


def test_la_rejects_bad_hyper_parameters():
    with pytest.raises(ValueError):
        LocalAttribution(spatial_range=0)
    with pytest.raises(ValueError):
        LocalAttribution(max_iter=0)
    with pytest.raises(ValueError, match="num_classes"):
        get_method("la", num_classes=50, max_iter=1).attribute(toy_model(), toy_images(1))
