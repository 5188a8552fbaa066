"""Local Attribution: the fast batched implementation against a slow reference written straight from
the spec's pseudo-code (§2.4-2.5), plus LA's own properties."""

from __future__ import annotations

import pytest
import torch

from local_attribution import LocalAttribution, get_method
from local_attribution.la import avoid_collisions

from . import zoo
from .zoo import bump, reference_classes

single_thread = zoo.single_thread  # autouse: one intra-op thread for these tiny models


def slow_la(model, x, y, *, spatial_range, max_iter, sampling_times, seed):
    """Spec §2.5, one image, one class, one step at a time (classes: randperm(C)[:T-1] of the seed)."""
    n_cls, classes = reference_classes(model, x, sampling_times - 1, seed)
    out = []
    for i in range(x.shape[0]):
        xi, yi = x[i : i + 1], int(y[i])
        eps = xi / spatial_range
        a = torch.zeros_like(xi)
        for c in classes:
            t = bump(c, yi, n_cls)
            xk, a_c = xi.clone(), torch.zeros_like(xi)
            for _ in range(max_iter):
                g_t, g_y = zoo.grad_prob(model, xk, t), zoo.grad_prob(model, xk, yi)
                x_next = torch.clamp(xi + eps * torch.sign(g_t), 0, 1)
                a_c += -g_y * (x_next - xi)
                xk = x_next
            a = a + a_c
        xk, a_u = xi.clone(), torch.zeros_like(xi)
        for _ in range(max_iter):
            g_y = zoo.grad_prob(model, xk, yi)
            x_next = torch.clamp(xi - eps * torch.sign(g_y), 0, 1)
            a_u += -g_y * (x_next - xi)
            xk = x_next
        out.append(a + a_u)
    return torch.cat(out)


def two_prob_gradients(model, x, t: int, y: int):
    """``grad p_t`` and ``grad p_y`` of one image from one forward and two backward passes (as the original)."""
    x = x.clone().requires_grad_(True)
    p = model(x).softmax(dim=1)[0]
    (g_t,) = torch.autograd.grad(p[t], x, retain_graph=True)
    (g_y,) = torch.autograd.grad(p[y], x)
    return g_t, g_y


def slow_la_with_redundant_passes(model, x, y, *, spatial_range, max_iter, sampling_times, seed):
    """The original code's pass structure, per sample: the class count from an extra forward, and every path
    (the untargeted one too, with t = y) takes a fresh forward and two backward passes (g_t, g_y) per step."""
    n_cls, classes = reference_classes(model, x, sampling_times - 1, seed)  # the extra forward lean LA does without
    out = []
    for i in range(x.shape[0]):
        xi, yi = x[i : i + 1], int(y[i])
        eps = xi / spatial_range
        paths = [(bump(c, yi, n_cls), 1.0) for c in classes]
        a = torch.zeros_like(xi)
        for t, direction in [*paths, (yi, -1.0)]:
            xk, a_p = xi.clone(), torch.zeros_like(xi)
            for _ in range(max_iter):
                g_t, g_y = two_prob_gradients(model, xk, t, yi)  # equal when t == y: one backward redundant
                x_next = torch.clamp(xi + direction * eps * torch.sign(g_t), 0, 1)
                a_p += -g_y * (x_next - xi)
                xk = x_next
            a = a + a_p
        out.append(a)
    return torch.cat(out)


class CountingModel(torch.nn.Module):
    """Counts images sent forward, images back-propagated, and the largest forward batch."""

    def __init__(self, model):
        super().__init__()
        self.model, self.forward_images, self.backward_images, self.largest = model, 0, 0, 0

    def forward(self, x):
        out = self.model(x)
        self.forward_images += x.shape[0]
        self.largest = max(self.largest, x.shape[0])
        if out.requires_grad:
            out.register_hook(lambda grad, n=x.shape[0]: setattr(self, "backward_images", self.backward_images + n))
        return out


HP = {"spatial_range": 20, "max_iter": 4, "sampling_times": 5}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_lean_la_equals_the_original_pass_structure_at_batch_1(dtype):
    """Sharing step 0, one backward on the untargeted path and no class-count forward change nothing: at
    internal batch 1 every gradient is computed on the same 1-image batches as the reference, so even in
    float32 (where sign() amplifies rounding differences) the maps agree to rounding of the final sums."""
    model, x = zoo.toy_model(dtype), zoo.toy_images(3, dtype)
    x[0, 0, :2] = 1.0  # the upper clip binds
    y = model(x).argmax(1)
    ours = get_method("la", **HP).attribute(model, x, y, generator=torch.Generator().manual_seed(5),
                                            internal_batch_size=1)
    ref = slow_la_with_redundant_passes(model, x, y, seed=5, **HP)
    tol = {"rtol": 1e-9, "atol": 1e-15} if dtype == torch.float64 else {"rtol": 1e-5, "atol": 1e-9}
    torch.testing.assert_close(ours, ref.float(), **tol)


@pytest.mark.parametrize("internal_batch_size", [1, 3, 10, 64])
def test_la_pass_counts_and_largest_batch(internal_batch_size):
    """Per image: 1 + (K-1)(W+1) forwards and W+1 + (K-1)(2W+1) backwards (W = T-1 targeted paths), never
    more than ``internal_batch_size`` images per pass."""
    model, x = CountingModel(zoo.toy_model()), zoo.toy_images(3)
    get_method("la", **HP).attribute(model, x, torch.tensor([1, 2, 3]), internal_batch_size=internal_batch_size)
    k, w = HP["max_iter"], HP["sampling_times"] - 1
    assert model.forward_images == 3 * (1 + (k - 1) * (w + 1))
    assert model.backward_images == 3 * (w + 1 + (k - 1) * (2 * w + 1))
    assert model.largest <= internal_batch_size
    reference = CountingModel(zoo.toy_model())
    slow_la_with_redundant_passes(reference, x, torch.tensor([1, 2, 3]), seed=0, **HP)
    assert reference.forward_images == 1 + 3 * k * (w + 1) > model.forward_images
    assert reference.backward_images == 3 * k * 2 * (w + 1) > model.backward_images


def test_la_default_internal_batch_is_the_cpu_default_on_cpu():
    model, x = CountingModel(zoo.toy_model()), zoo.toy_images(2)
    la = get_method("la", **HP)
    la.attribute(model, x, torch.tensor([0, 1]))
    assert model.largest == la.default_internal_batch_size("cpu") == LocalAttribution.cpu_internal_batch_size
    assert la.default_internal_batch_size("cuda") == LocalAttribution.accelerator_internal_batch_size
    assert get_method("ig").default_internal_batch_size("cpu") == get_method("ig").default_batch_size


def test_la_float32_map_of_a_sample_is_bitwise_independent_of_the_others_below_2t():
    """Below 2 T walkers per pass every sample runs in its own chunks, so even float32 noise cannot couple
    samples; from 2 T on, samples share passes (documented)."""
    model, x = zoo.toy_model(torch.float32), zoo.toy_images(4, torch.float32)
    la = get_method("la", **HP)
    small = 2 * HP["sampling_times"] - 1
    ref = la.attribute(model, x, generator=torch.Generator().manual_seed(6), internal_batch_size=small)
    changed = x.clone()
    changed[[0, 1, 3]] = zoo.toy_images(3, torch.float32, seed=42)
    again = la.attribute(model, changed, generator=torch.Generator().manual_seed(6), internal_batch_size=small)
    assert torch.equal(again[2], ref[2])
    alone = la.attribute(model, x[2:3], generator=torch.Generator().manual_seed(6), internal_batch_size=small)
    assert torch.equal(alone[0], ref[2])


@pytest.mark.parametrize("given_target", [False, True])
@pytest.mark.parametrize("internal_batch_size", [64, 7])
def test_fast_la_equals_the_slow_reference(given_target, internal_batch_size):
    model, x = zoo.toy_model(), zoo.toy_images(3)
    x[0, 0, :2] = 1.0  # bright pixels: the upper clip binds (x + x/s > 1)
    pred = model(x).argmax(1)
    # Targets inside the sampled set exercise the collision rule c -> c +- 1.
    classes = torch.randperm(zoo.NUM_CLASSES, generator=torch.Generator().manual_seed(5))[:4]
    y = torch.tensor([int(classes[0]), int(classes[1]), 9]) if given_target else pred
    ours = get_method("la", **HP).attribute(
        model, x, y if given_target else None, generator=torch.Generator().manual_seed(5),
        internal_batch_size=internal_batch_size,
    )
    ref = slow_la(model, x, y, seed=5, **HP)
    torch.testing.assert_close(ours, ref.float(), rtol=1e-6, atol=1e-12)


def test_la_uses_every_class_once_when_the_model_has_fewer_than_t_minus_1():
    model, x = zoo.toy_model(), zoo.toy_images(2)
    hp = {"spatial_range": 10, "max_iter": 2, "sampling_times": 25}
    ours = get_method("la", **hp).attribute(model, x, generator=torch.Generator().manual_seed(1))
    ref = slow_la(model, x, model(x).argmax(1), seed=1, **hp)
    torch.testing.assert_close(ours, ref.float(), rtol=1e-6, atol=1e-12)


def test_la_gives_exactly_zero_where_the_input_is_zero():
    model, x = zoo.toy_model(), zoo.toy_images(2)
    x[0, 1] = 0.0  # one whole channel
    x[1, :, 3:7, 5:9] = 0.0  # a black patch
    parts = get_method("la", **HP).attribute_parts(model, x)
    total = get_method("la", **HP).attribute(model, x)
    zero = x == 0
    for a in (total, parts.targeted, parts.untargeted):
        assert torch.all(a[zero] == 0)
    assert (total[~zero] != 0).float().mean() > 0.9


def test_la_untargeted_part_is_non_negative_and_parts_sum_to_the_map():
    model, x = zoo.toy_model(), zoo.toy_images(3)
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
    model, x = zoo.toy_model(), zoo.toy_images(3)
    la = get_method("la", **HP)
    a = la.attribute(model, x, generator=torch.Generator().manual_seed(3))
    b = la.attribute(model, x, generator=torch.Generator().manual_seed(3), internal_batch_size=4)
    c = la.attribute(model, x, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, la.attribute(model, x, generator=torch.Generator().manual_seed(3)))
    torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-12)
    assert not torch.allclose(a, c)


def test_la_map_of_a_sample_does_not_depend_on_the_other_samples():
    model, x = zoo.toy_model(), zoo.toy_images(4)
    la = get_method("la", **HP)
    ref = la.attribute(model, x, generator=torch.Generator().manual_seed(6))
    changed = x.clone()
    changed[[0, 1, 3]] = zoo.toy_images(3, seed=42)
    again = la.attribute(model, changed, generator=torch.Generator().manual_seed(6))
    torch.testing.assert_close(again[2], ref[2], rtol=1e-9, atol=1e-15)
    assert not torch.allclose(again[0], ref[0])
    alone = la.attribute(model, x[2:3], generator=torch.Generator().manual_seed(6))
    torch.testing.assert_close(alone[0], ref[2], rtol=1e-9, atol=1e-15)


def test_la_target_changes_the_explained_class():
    model, x = zoo.toy_model(), zoo.toy_images(2)
    la = get_method("la", **HP)
    pred = model(x).argmax(1)
    torch.testing.assert_close(la.attribute(model, x), la.attribute(model, x, pred), rtol=0, atol=0)
    assert not torch.allclose(la.attribute(model, x), la.attribute(model, x, (pred + 1) % zoo.NUM_CLASSES))


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
        get_method("la", num_classes=50, max_iter=1).attribute(zoo.toy_model(), zoo.toy_images(1))


def test_generate_attributions_gives_la_its_device_default_internal_batch(tmp_path):
    from local_attribution import generate_attributions as ga
    from local_attribution.generate_pt import PackedBatch

    la, ig = get_method("la", **HP), get_method("ig")
    cpu_default = LocalAttribution.cpu_internal_batch_size
    assert ga.internal_batch_size_for(la, 64, "cpu") == cpu_default
    assert ga.internal_batch_size_for(la, 2, "cpu") == min(2, cpu_default)
    assert ga.internal_batch_size_for(la, 64, "cuda") == 64
    assert ga.internal_batch_size_for(ig, 4, "cpu") == 4  # the others keep their original batch
    model = CountingModel(zoo.toy_model(torch.float32))
    data = PackedBatch(zoo.toy_images(3, torch.float32), torch.tensor([0, 1, 2]), list("abc"), "t")
    ga.compute_attributions(la, model, data, data.labels, tmp_path / "la.npy", batch_size=64, progress=False)
    assert model.largest == cpu_default  # 64 images per call, but at most the CPU default per pass
    model.largest = 0
    ga.compute_attributions(la, model, data, data.labels, tmp_path / "la7.npy", batch_size=64, progress=False,
                            internal_batch_size=10)
    assert cpu_default < model.largest <= 10  # two samples' 2 x (T - 1) targeted walkers share passes
