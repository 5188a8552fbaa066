"""Tests of the dense attribution zoo (local_attribution): registry, contract, oracles, invariances.

Tiny random-initialised conv nets on 3x16x16 inputs stand in for real models; Captum is used as an
oracle for IG, Saliency, SmoothGrad (same noise), Input x Gradient and DeepLIFT.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from torch import nn

import local_attribution as la_pkg
from local_attribution import METHODS, AttributionMethod, get_method, list_methods
from local_attribution.attexplore import dct2, gaussian_kernel, idct2
from local_attribution.base import sample_generators
from local_attribution.gradients import (
    chunk_slices,
    class_score_gradients,
    integration_rule,
    multi_class_score_gradients,
    path_integral,
)
from local_attribution.smoothgrad import smoothgrad_noise

from .zoo import (  # noqa: F401 (autouse fixture)
    NUM_CLASSES,
    SIZE,
    completeness_errors,
    exit_code_without_torch,
    single_thread,
    toy_images,
    toy_model,
    with_softmax,
)

# Small hyper-parameters keep the suite fast; they change the cost, not the code paths.
FAST = {
    "la": {"max_iter": 4, "sampling_times": 4},
    "agi": {"max_iter": 4, "topk": 3},
    "attexplore": {"n_steps": 3, "n_samples": 3},
    "big": {"attack_steps": 4, "attack_step_size": 0.01, "n_steps": 6},
    "guided_ig": {"steps": 6},
    "ig": {"n_steps": 8},
    "mfaba": {"n_steps": 8, "step_size": 0.01},
    "sg": {"n_samples": 5},
    "eg": {"n_samples": 3},
}


def make(name: str, **extra) -> AttributionMethod:
    return get_method(name, **{**FAST.get(name, {}), **extra})


def run(name: str, model, x, target=None, seed: int = 0, **kw) -> torch.Tensor:
    method = make(name)
    gen = torch.Generator().manual_seed(seed) if method.stochastic else None
    if name == "eg" and "background" not in kw:
        kw["background"] = toy_images(5, x.dtype, seed=99)
    return method.attribute(model, x, target, generator=gen, **kw)


ALL = list_methods()
DETERMINISTIC = [n for n in ALL if not METHODS[n].stochastic]
STOCHASTIC = [n for n in ALL if METHODS[n].stochastic]


# --------------------------------------------------------------------------------------------
# Registry and metadata


def test_registry_lists_the_twelve_methods_in_panel_order():
    assert list_methods() == [
        "la", "agi", "attexplore", "big", "deeplift", "eg", "fast_ig", "guided_ig", "ig", "mfaba", "sg", "sm",
    ]
    labels = [METHODS[n].panel_label for n in list_methods()]
    assert labels == ["LA", "AGI", "AttEXplore", "BIG", "DeepLIFT", "EG", "FIG", "GIG", "IG", "MFABA", "SG", "SM"]


def test_registry_metadata_matches_the_original_code():
    batch = {"fast_ig": 1, "guided_ig": 1, "big": 1, "ig": 4, "attexplore": 4, "eg": 4, "sg": 4,
             "deeplift": 4, "agi": 64, "mfaba": 64, "sm": 64, "la": 64}
    for name, cls in METHODS.items():
        assert cls.name == name
        assert issubclass(cls, AttributionMethod)
        assert isinstance(cls.display_name, str) and cls.display_name
        assert isinstance(cls.needs_gradients, bool) and cls.needs_gradients
        assert cls.differentiates in ("probability", "logit")
        assert cls.default_batch_size == batch[name]
    assert set(STOCHASTIC) == {"la", "agi", "attexplore", "sg", "eg"}
    assert METHODS["fast_ig"].display_name == "Fast IG"
    assert la_pkg.LocalAttribution is METHODS["la"]


def test_la_defaults_are_the_cli_defaults():
    la = get_method("la")
    assert (la.spatial_range, la.max_iter, la.sampling_times, la.num_classes) == (20, 20, 20, None)
    assert get_method("la", max_iter=7).max_iter == 7


def test_unknown_method_name_gives_one_line_error_listing_valid_names():
    with pytest.raises(ValueError) as err:
        get_method("lime")
    msg = str(err.value)
    assert "\n" not in msg and "--attr-method lime" in msg
    assert all(name in msg for name in list_methods())


def test_unknown_hyper_parameter_is_rejected_with_valid_names():
    with pytest.raises(ValueError, match="--spatial-rang: not a parameter of la .*--spatial-range"):
        get_method("la", spatial_rang=3)


@pytest.mark.parametrize("name", ALL)
def test_every_method_returns_finite_float32_maps_of_the_input_shape(name):
    model = toy_model(torch.float32)
    x = toy_images(3, torch.float32)
    out = run(name, model, x)
    assert out.shape == x.shape and out.dtype == torch.float32 and out.device == x.device
    assert torch.isfinite(out).all()
    assert all(bool(o.abs().sum() > 0) for o in out), "every sample must get a non-zero map"


def test_target_none_means_argmax_and_int_target_broadcasts():
    model, x = toy_model(), toy_images(3)
    pred = model(x).argmax(1)
    sm = get_method("sm")
    torch.testing.assert_close(sm.attribute(model, x), sm.attribute(model, x, pred), rtol=0, atol=0)
    torch.testing.assert_close(sm.attribute(model, x, 2), sm.attribute(model, x, torch.full((3,), 2)), rtol=0, atol=0)
    with pytest.raises(ValueError, match="target"):
        sm.attribute(model, x, torch.zeros(2, dtype=torch.long))


def test_works_under_no_grad_and_inference_mode():
    model, x = toy_model(), toy_images(2)
    ref = get_method("ig", n_steps=5).attribute(model, x)
    with torch.no_grad():
        a = get_method("ig", n_steps=5).attribute(model, x)
    with torch.inference_mode():
        b = get_method("ig", n_steps=5).attribute(model, x)
    torch.testing.assert_close(a, ref, rtol=0, atol=0)
    torch.testing.assert_close(b, ref, rtol=0, atol=0)


def test_training_mode_model_triggers_a_warning():
    model = toy_model().train()
    with pytest.warns(UserWarning, match="eval"):
        get_method("sm").attribute(model, toy_images(1))


# --------------------------------------------------------------------------------------------
# Invariances: batch size, batch composition, seeds, global RNG


@pytest.mark.parametrize("name", DETERMINISTIC)
def test_deterministic_methods_do_not_depend_on_chunking_or_batch_composition(name):
    model, x = toy_model(), toy_images(5)
    target = torch.tensor([0, 3, 3, 7, 1])
    ref = run(name, model, x, target, internal_batch_size=5)
    for bs in (1, 2):
        torch.testing.assert_close(run(name, model, x, target, internal_batch_size=bs), ref, rtol=1e-9, atol=1e-12)
    # Sample 2 alone, and next to other images, gets the same map.
    other = torch.cat([toy_images(2, seed=5), x[2:3]])
    torch.testing.assert_close(run(name, model, x[2:3], target[2:3]), ref[2:3], rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(
        run(name, model, other, torch.tensor([4, 4, 3]), internal_batch_size=3)[2:3], ref[2:3], rtol=1e-9, atol=1e-12
    )


@pytest.mark.parametrize("name", STOCHASTIC)
def test_stochastic_methods_are_reproducible_and_chunking_invariant(name):
    model, x = toy_model(), toy_images(4)
    ref = run(name, model, x, seed=7, internal_batch_size=64)
    for bs in (1, 3):
        torch.testing.assert_close(run(name, model, x, seed=7, internal_batch_size=bs), ref, rtol=1e-9, atol=1e-12)
    assert torch.equal(run(name, model, x, seed=7, internal_batch_size=64), ref)
    # (seeds 7 and 21 draw different class subsets for LA/AGI: {0, 3, 5} and {2, 3, 7})
    assert not torch.allclose(run(name, model, x, seed=21, internal_batch_size=64), ref)
    # generator=None means a generator seeded with 0.
    method = make(name)
    kw = {"background": toy_images(5, seed=99)} if name == "eg" else {}
    torch.testing.assert_close(
        method.attribute(model, x, **kw), method.attribute(model, x, generator=torch.Generator().manual_seed(0), **kw)
    )


@pytest.mark.parametrize("name", STOCHASTIC)
def test_stochastic_methods_leave_the_global_rngs_alone(name):
    model, x = toy_model(), toy_images(2)
    torch_state, np_state, py_state = torch.random.get_rng_state(), np.random.get_state(), random.getstate()
    run(name, model, x, seed=3)
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    assert np.random.get_state()[1].tolist() == np_state[1].tolist()
    assert random.getstate() == py_state


# --------------------------------------------------------------------------------------------
# Shared helpers


def test_class_score_gradients_are_per_sample_and_gathered():
    model, x = toy_model(), toy_images(4)
    classes = torch.tensor([1, 1, 5, 9])
    grads, scores = class_score_gradients(model, x, classes)
    for i in range(4):
        xi = x[i : i + 1].clone().requires_grad_(True)
        p = model(xi).softmax(1)[0, classes[i]]
        (g,) = torch.autograd.grad(p, xi)
        torch.testing.assert_close(grads[i : i + 1], g)
        torch.testing.assert_close(scores[i], p.detach())
    (g1, g2), _, logits = multi_class_score_gradients(model, x, (classes, classes.flip(0)), "log_probability")
    torch.testing.assert_close(g1, class_score_gradients(model, x, classes, "log_probability")[0])
    torch.testing.assert_close(g2, class_score_gradients(model, x, classes.flip(0), "log_probability")[0])
    torch.testing.assert_close(logits, model(x).detach())


def test_chunk_slices_cover_the_range_once():
    assert chunk_slices(7, 3) == [slice(0, 3), slice(3, 6), slice(6, 7)]
    assert chunk_slices(2, 5) == [slice(0, 2)]
    with pytest.raises(ValueError):
        chunk_slices(3, 0)


@pytest.mark.parametrize("method", ["riemann_trapezoid", "riemann_left", "riemann_right", "riemann_middle",
                                    "gausslegendre"])
def test_integration_rules_match_captum(method):
    from captum.attr._utils.approximation_methods import approximation_parameters

    step_sizes, alphas = approximation_parameters(method)
    a, w = integration_rule(12, method)
    np.testing.assert_allclose(a.numpy(), alphas(12), rtol=0, atol=1e-7)
    np.testing.assert_allclose(w.numpy(), step_sizes(12), rtol=0, atol=1e-12)


def test_path_integral_with_per_sample_baselines_matches_a_loop():
    model, x = toy_model(), toy_images(2)
    base = toy_images(2, seed=4)
    alphas = torch.tensor([[0.2, 0.7], [0.5, 0.1]], dtype=torch.float64)
    weights = torch.tensor([0.25, 0.75], dtype=torch.float64)
    y = torch.tensor([2, 6])
    out = path_integral(model, x, y, alphas, weights, base, batch_size=3)
    for i in range(2):
        ref = sum(
            weights[m] * (x[i] - base[i]) * class_score_gradients(
                model, (base[i] + alphas[i, m] * (x[i] - base[i]))[None], y[i : i + 1])[0][0]
            for m in range(2)
        )
        torch.testing.assert_close(out[i], ref)


def test_dct_pair_matches_scipy_and_inverts():
    from scipy.fft import dctn, idctn

    x = toy_images(2)[:, :, :, :12]
    np.testing.assert_allclose(dct2(x).numpy(), dctn(x.numpy(), axes=(-2, -1), norm=None), rtol=1e-10, atol=1e-10)
    y = dct2(x)
    np.testing.assert_allclose(idct2(y).numpy(), idctn(y.numpy(), axes=(-2, -1), norm=None), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(idct2(dct2(x)), x)


def test_ti_kernel_is_a_normalised_symmetric_gaussian():
    k = gaussian_kernel(7, 3.0, dtype=torch.float64)
    assert k.shape == (7, 7) and abs(float(k.sum()) - 1) < 1e-12
    torch.testing.assert_close(k, k.T)
    torch.testing.assert_close(k, k.flip(0))
    assert k[3, 3] == k.max()


# --------------------------------------------------------------------------------------------
# Captum oracles and method-specific properties


def test_ig_matches_captum_integrated_gradients():
    from captum.attr import IntegratedGradients

    model, x = toy_model(), toy_images(3)
    y = torch.tensor([1, 4, 4])
    ours = get_method("ig", n_steps=20).attribute(model, x, y)
    theirs = IntegratedGradients(with_softmax(model)).attribute(
        x, baselines=torch.zeros_like(x), target=y, n_steps=20, method="riemann_trapezoid"
    )
    torch.testing.assert_close(ours, theirs.float(), rtol=1e-4, atol=1e-9)


def test_ig_completeness_error_shrinks_with_steps():
    model, x = toy_model(smooth=True), toy_images(2)
    errors, gap = completeness_errors("ig", [{"n_steps": n} for n in (4, 40, 400)], model, x, batch=256)
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 5e-3 * float(gap.abs().max())  # trapezoid weights sum to 1 - 1/n
    (exact,), _ = completeness_errors("ig", [{"n_steps": 24, "method": "gausslegendre"}], model, x, batch=64)
    assert exact <= 1e-9 + 1e-6 * float(gap.abs().max())


def test_saliency_matches_captum():
    from captum.attr import Saliency as CaptumSaliency

    model, x = toy_model(), toy_images(3)
    y = torch.tensor([0, 5, 9])
    theirs = CaptumSaliency(with_softmax(model)).attribute(x, target=y, abs=True)
    torch.testing.assert_close(get_method("sm").attribute(model, x, y), theirs.float())
    signed = CaptumSaliency(with_softmax(model)).attribute(x, target=y, abs=False)
    torch.testing.assert_close(get_method("sm", abs=False).attribute(model, x, y), signed.float())


def test_fast_ig_is_input_times_gradient_of_the_probability():
    from captum.attr import InputXGradient

    model, x = toy_model(), toy_images(3)
    y = torch.tensor([2, 2, 8])
    theirs = InputXGradient(with_softmax(model)).attribute(x, target=y)
    torch.testing.assert_close(get_method("fast_ig").attribute(model, x, y), theirs.float())


def test_smoothgrad_equals_captum_saliency_averaged_over_the_same_noise():
    from captum.attr import Saliency as CaptumSaliency

    model, x = toy_model(), toy_images(3)
    y = torch.tensor([3, 1, 3])
    n = 6
    ours = get_method("sg", n_samples=n).attribute(model, x, y, generator=torch.Generator().manual_seed(11))
    gens = sample_generators(torch.Generator().manual_seed(11), 3)
    sal = CaptumSaliency(with_softmax(model))
    for i in range(3):
        noise = smoothgrad_noise(gens[i], n, tuple(x.shape[1:]), 0.15)
        grads = sal.attribute(x[i : i + 1] + noise, target=int(y[i]), abs=False)
        torch.testing.assert_close(ours[i], grads.mean(0).float())


def test_smoothgrad_noise_has_the_requested_absolute_std():
    noise = smoothgrad_noise(torch.Generator().manual_seed(0), 200, (3, 16, 16), 0.15)
    assert abs(float(noise.std()) - 0.15) < 2e-3 and abs(float(noise.mean())) < 2e-3


def test_smoothgrad_agrees_with_captum_noise_tunnel_statistically():
    from captum.attr import NoiseTunnel
    from captum.attr import Saliency as CaptumSaliency

    model, x = toy_model(), toy_images(1)
    y = torch.tensor([4])
    ours = get_method("sg", n_samples=1500).attribute(model, x, y, internal_batch_size=1500)
    theirs = NoiseTunnel(CaptumSaliency(with_softmax(model))).attribute(
        x, nt_type="smoothgrad", nt_samples=1500, stdevs=0.15, target=y, abs=False
    )
    cos = torch.nn.functional.cosine_similarity(ours.flatten().double(), theirs.flatten(), dim=0)
    assert cos > 0.97


@pytest.mark.parametrize("reuse_relu", [False, True])
def test_deeplift_matches_captum_per_sample(reuse_relu):
    from captum.attr import DeepLift

    model = toy_model(reuse_relu=reuse_relu)
    reference_net = toy_model()  # same weights, separate non-inplace ReLU modules
    x = toy_images(3)
    y = torch.tensor([1, 7, 7])
    ours = get_method("deeplift").attribute(model, x, y)
    dl = DeepLift(with_softmax(reference_net))
    for i in range(3):
        theirs = dl.attribute(x[i : i + 1], baselines=torch.zeros_like(x[i : i + 1]), target=int(y[i]))
        torch.testing.assert_close(ours[i : i + 1], theirs.float(), rtol=1e-5, atol=1e-10)
    # The caller's model is untouched (still in-place, still one shared module).
    if reuse_relu:
        assert model.relu.inplace and isinstance(model.relu, nn.ReLU)


class ReLU6Net(nn.Module):
    """Linear - ReLU6 - Linear - ReLU6 - Linear with ONE in-place ReLU6 module called twice."""

    def __init__(self) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(3)
        self.l1, self.l2, self.l3 = nn.Linear(3 * SIZE * SIZE, 16), nn.Linear(16, 16), nn.Linear(16, NUM_CLASSES)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * (0.3 if p.shape[-1] > 16 else 3.0))
        self.act = nn.ReLU6(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.l3(self.act(self.l2(self.act(self.l1(x.flatten(1))))))


def test_deeplift_preparation_handles_relu6_and_reused_modules_exactly():
    from captum.attr import DeepLift

    from local_attribution.deeplift import prepare_for_deeplift

    model, x = ReLU6Net().double().eval(), toy_images(2)
    hidden = model.l1(x.flatten(1))
    assert (hidden > 6).any() and (hidden < 0).any()  # both kinks of ReLU6 are crossed
    net = prepare_for_deeplift(model, x[:1])[0]
    torch.testing.assert_close(net(x), model(x))
    # With a rescale rule at every non-linearity DeepLIFT sums exactly to f(x) - f(0) on the logits.
    _, delta = DeepLift(net).attribute(x, baselines=torch.zeros_like(x), target=2, return_convergence_delta=True)
    assert float(delta.abs().max()) < 1e-9
    _, raw_delta = DeepLift(ReLU6Net().double().eval()).attribute(
        x, baselines=torch.zeros_like(x), target=2, return_convergence_delta=True
    )
    assert float(raw_delta.abs().max()) > 1e-3  # Captum alone has no ReLU6 rule
    out = get_method("deeplift").attribute(model, x, 2)
    assert torch.isfinite(out).all() and model.act.inplace


def test_deeplift_differs_from_plain_gradient_times_input():
    model, x = toy_model(), toy_images(2)
    dl = get_method("deeplift").attribute(model, x)
    fig = get_method("fast_ig").attribute(model, x)
    assert not torch.allclose(dl, fig, rtol=1e-3)


def test_eg_explains_every_sample_for_its_own_target():
    model, x = toy_model(), toy_images(4)
    eg = get_method("eg", n_samples=2)
    maps = eg.attribute(model, x, torch.tensor([0, 1, 2, 3]))
    assert all(bool((m != 0).any()) for m in maps)
    other = eg.attribute(model, x, torch.tensor([0, 1, 2, 9]))
    torch.testing.assert_close(other[:3], maps[:3])
    assert not torch.allclose(other[3], maps[3])
    # with the background passed to the constructor, too
    bg = toy_images(6, seed=8)
    a = get_method("eg", background=bg).attribute(model, x, generator=torch.Generator().manual_seed(2))
    b = get_method("eg").attribute(model, x, generator=torch.Generator().manual_seed(2), background=bg)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert all(bool((m != 0).any()) for m in a)
    # a single image without background falls back to the black reference
    assert bool((get_method("eg").attribute(model, x[:1]) != 0).any())


def test_eg_with_a_black_background_is_monte_carlo_ig():
    model, x = toy_model(), toy_images(2)
    y = model(x).argmax(1)
    probs = lambda z: model(z).softmax(1).gather(1, y[:, None]).squeeze(1)  # noqa: E731
    gap = (probs(x) - probs(torch.zeros_like(x))).detach()
    total = get_method("eg", n_samples=3000).attribute(
        model, x, y, background=torch.zeros(1, 3, SIZE, SIZE, dtype=x.dtype), internal_batch_size=3000
    ).double().sum((1, 2, 3))
    torch.testing.assert_close(total, gap, rtol=0.05, atol=1e-6)


@pytest.mark.parametrize("name", ["mfaba", "attexplore"])
def test_sign_walk_methods_are_non_negative_inside_the_valid_range(name):
    model = toy_model()
    x = 0.1 + 0.8 * toy_images(3)  # the [0, 1] clip never binds
    out = run(name, model, x)
    assert float(out.min()) >= -1e-9 * float(out.abs().max())
    assert float(out.max()) > 0


def test_mfaba_stops_after_one_step_when_the_target_is_not_predicted():
    model = toy_model()
    x = 0.1 + 0.8 * toy_images(2)
    pred = model(x).argmax(1)
    target = (pred + 1) % NUM_CLASSES
    out = get_method("mfaba").attribute(model, x, target)
    g, _ = class_score_gradients(model, x, target)
    torch.testing.assert_close(out, (0.001 * g.abs()).float())


def test_big_boundary_is_close_to_the_input_and_ig_from_it_is_complete():
    model, x = toy_model(), toy_images(2)
    y = model(x).argmax(1)
    big = get_method("big", attack_steps=20, attack_step_size=0.02, epsilons=(0.1, 0.3), n_steps=400)
    boundary = big.boundary_points(model, x, y, batch_size=2)
    assert float((boundary - x).abs().max()) <= 0.3 + 1e-12
    assert not torch.equal(boundary, x)
    probs = lambda z: model(z).softmax(1).gather(1, y[:, None]).squeeze(1)  # noqa: E731
    gap = (probs(x) - probs(boundary)).detach()
    total = big.attribute(model, x, y, internal_batch_size=400).double().sum((1, 2, 3))
    torch.testing.assert_close(total, gap, rtol=5e-3, atol=1e-6)


# ------------------------------------------------------------------ generate_attributions: flags, help, NaN maps


def test_specs_are_the_registry():
    """The torch-free specs list exactly the registered methods, in panel order, with each class's fields."""
    import dataclasses

    from local_attribution.specs import SPECS

    assert list(SPECS) == list_methods() and sorted(SPECS) == sorted(METHODS)
    for name, cls in METHODS.items():
        assert {f.name: f.default for f in dataclasses.fields(cls) if f.init} == SPECS[name].defaults(), name


@pytest.mark.parametrize("argv, message", [
    (["--max-iter", "0"], "--max-iter 0: la needs an integer >= 1"),
    (["--sampling-times", "-3"], "--sampling-times -3: la needs an integer >= 1"),
    (["--spatial-range", "0"], "--spatial-range 0: la needs a finite number > 0"),
    (["--batch-size", "0"], "--batch-size 0: must be >= 1"),
])
def test_generate_attributions_refuses_bad_flags_before_the_model(tmp_path, monkeypatch, capsys, argv, message):
    from local_attribution import generate_attributions as ga

    monkeypatch.setattr(ga, "load_classifier", lambda *a, **k: pytest.fail("model loaded before the flags were checked"))
    with pytest.raises(SystemExit) as info:
        ga.main([*argv, "--prefix", str(tmp_path / "out"), "--data", str(tmp_path / "none")])
    err = capsys.readouterr().err.strip()
    assert info.value.code == 2 and message in err and err.count("\n") == 0, err


def test_generate_attributions_validation_imports_no_torch(tmp_path):
    printed, stderr = exit_code_without_torch("local_attribution.generate_attributions",
                                              ["--max-iter", "0", "--prefix", str(tmp_path)])
    assert printed == ["2", "False"], stderr


def test_generate_attributions_help_lists_every_method(capsys):
    from local_attribution import generate_attributions as ga

    with pytest.raises(SystemExit):
        ga.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "attribution method: " + ", ".join(list_methods()) in text


def test_generate_attributions_never_writes_a_nan_batch(tmp_path):
    """A batch whose maps hold NaN is logged to errors.jsonl and not written; the other batches are; the output is
    not assembled and the run ends with one error line (non-zero exit)."""
    from common.errors import ToolkitError
    from local_attribution import generate_attributions as ga
    from local_attribution.generate_pt import PackedBatch

    model = toy_model(torch.float32)
    images = toy_images(4, torch.float32)
    data = PackedBatch(images=images, labels=torch.tensor([1, 2, 3, 4]), names=[f"{i}.png" for i in range(4)],
                       source="toy")
    sm = get_method("sm")

    class NanOnImage2:
        stochastic = False

        def attribute(self, model, x, target, **kwargs):
            maps = sm.attribute(model, x, target, **kwargs)
            return maps * float("nan") if int(target[0]) == 3 else maps

    output = tmp_path / "out.npy"
    with pytest.raises(ToolkitError, match="gave NaN/inf maps") as info:
        ga.compute_attributions(NanOnImage2(), model, data, data.labels, output, batch_size=2, progress=False,
                                meta={"attr_method": "sm"})
    assert "\n" not in str(info.value)
    work = ga.partial_dir(output)
    assert not output.exists() and sorted(p.name for p in work.glob("*.npy")) == ["000000-000002.npy"]
    assert "images 2..3" in (work / "errors.jsonl").read_text() and "images 2..3" in str(info.value)
