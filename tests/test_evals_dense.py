"""Dense-map metrics: analytic models with known answers, slow references written from the specs, batch-size
invariance, SMDL rankings as maps."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from evals.causal import PRESETS, get_preset, insertion_deletion, rise_gaussian_kernel
from evals.metrics import METRICS, highest_confidence_dense, smdl_saliency_map
from evals.mufidelity import draw_masks, get_mufidelity_preset, mufidelity
from models.base import BlackBox, ImageClassifier
from tests.conftest import toy_classifier

SIZE = 16
PIXEL = (5, 9)


class ReadOnePixel(nn.Module):
    """Features = the channel mean of one pixel: ``(B, 3, H, W) -> (B, 1)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, PIXEL[0], PIXEL[1]].mean(dim=1, keepdim=True)


def one_pixel_blackbox(batch_size: int = 8) -> BlackBox:
    """p_0 = sigmoid(8·v - 4) with v the pixel's channel mean, identity normalisation."""
    head = nn.Linear(1, 2)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[8.0], [0.0]]))
        head.bias.copy_(torch.tensor([-4.0, 0.0]))
    clf = ImageClassifier(ReadOnePixel(), head, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), SIZE, "one_pixel", ["a", "b"])
    return BlackBox(clf, batch_size=batch_size)


def p_class0(value: float) -> float:
    return 1.0 / (1.0 + math.exp(-(8.0 * value - 4.0)))


def analytic_case() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    images = torch.rand(2, 3, SIZE, SIZE, generator=gen) * 0.2
    images[:, :, PIXEL[0], PIXEL[1]] = 1.0
    perfect = torch.rand(2, SIZE, SIZE, generator=gen)
    perfect[:, PIXEL[0], PIXEL[1]] = 2.0
    adversarial = -perfect
    return images, perfect, adversarial


def uniform_auc(curve: list[float]) -> float:
    n = len(curve) - 1
    return (sum(curve) - curve[0] / 2 - curve[-1] / 2) / n


@pytest.mark.parametrize("preset", ["smdl_baseline", "xplique", "la"])
def test_one_pixel_model_known_auc(preset):
    """Perfect map: the pixel is changed at the first step; adversarial: at the last one."""
    bb = one_pixel_blackbox()
    images, perfect, adversarial = analytic_case()
    targets = torch.zeros(2, dtype=torch.long)
    n = get_preset(preset).n_steps if preset != "la" else math.ceil(SIZE * SIZE / 224)
    p_in, p_out = p_class0(1.0), p_class0(0.0)
    best = insertion_deletion(bb, images, perfect, preset, targets=targets)
    worst = insertion_deletion(bb, images, adversarial, preset, targets=targets)
    assert best.insertion_auc == pytest.approx(uniform_auc([p_out] + [p_in] * n))
    assert best.deletion_auc == pytest.approx(uniform_auc([p_in] + [p_out] * n))
    assert worst.insertion_auc == pytest.approx(uniform_auc([p_out] * n + [p_in]))
    assert worst.deletion_auc == pytest.approx(uniform_auc([p_in] * n + [p_out]))
    assert best.insertion_curves.shape == (2, n + 1)


def test_mufidelity_one_pixel_model():
    """Removed attribution of an indicator map moves exactly with the score drop: Spearman +1 / -1."""
    bb = one_pixel_blackbox()
    images, _, _ = analytic_case()
    indicator = torch.zeros(2, SIZE, SIZE)
    indicator[:, PIXEL[0], PIXEL[1]] = 1.0
    config = get_mufidelity_preset("smdl_clip", grid_size=4, nb_samples=24)
    targets = [0, 0]
    assert mufidelity(bb, images, indicator, targets, config).scores == pytest.approx([1.0, 1.0])
    assert mufidelity(bb, images, -indicator, targets, config).scores == pytest.approx([-1.0, -1.0])


# ----------------------------------------------------------------------------------------- slow references


def model_probs(bb: BlackBox, image: np.ndarray) -> np.ndarray:
    """Softmax of the classifier on one (3, H, W) image, no BlackBox batching."""
    with torch.no_grad():
        return bb.classifier(torch.from_numpy(image)[None].float()).softmax(-1)[0].double().numpy()


def reference_rise(bb: BlackBox, image: np.ndarray, sal: np.ndarray, step: int = 224) -> tuple[list, list]:
    """RISE ``CausalMetric`` (spec §B.1) on the *normalised* tensor: blurred insertion start (gkern conv, zero
    padding), zero deletion finish, order[step·i : step·(i+1)] copied per step; class = top-1."""
    mean = bb.classifier.mean.view(3, 1, 1).double().numpy()
    std = bb.classifier.std.view(3, 1, 1).double().numpy()
    norm = (image - mean) / std
    kern = rise_gaussian_kernel().double()
    blurred = torch.nn.functional.conv2d(torch.from_numpy(norm)[None], kern.expand(3, 1, 11, 11), padding=5,
                                         groups=3)[0].numpy()
    hw = sal.size
    n = (hw + step - 1) // step
    order = np.argsort(-sal.ravel(), kind="stable")
    cls = int(np.argmax(model_probs(bb, image)))
    curves = []
    for mode in ("ins", "del"):
        start = (blurred if mode == "ins" else norm).reshape(3, hw).copy()
        finish = (norm if mode == "ins" else np.zeros_like(norm)).reshape(3, hw)
        scores = []
        for i in range(n + 1):
            scores.append(model_probs(bb, (start.reshape(norm.shape) * std + mean))[cls])
            idx = order[step * i: step * (i + 1)]
            start[:, idx] = finish[:, idx]
        curves.append(scores)
    return curves[0], curves[1]


def reference_smdl_baseline(bb: BlackBox, image: np.ndarray, sal: np.ndarray, label: int, steps: int = 50):
    """SMDL ``eval_AUC_faithfulness_baseline`` (spec smdl §5.2): keep / zero the top floor(HW·i/T) pixels,
    ins = [del_last] + ins_list, del = [ins_last] + del_list, sklearn-style trapezoid on x = i/T."""
    hw = sal.size
    order = np.argsort(-sal.ravel(), kind="stable")
    ins_list, del_list = [], []
    for i in range(1, steps + 1):
        top = order[: hw * i // steps]
        keep = np.zeros(hw, bool)
        keep[top] = True
        keep = keep.reshape(sal.shape)
        ins_list.append(model_probs(bb, image * keep)[label])
        del_list.append(model_probs(bb, image * ~keep)[label])
    ins = [del_list[-1]] + ins_list
    dele = [ins_list[-1]] + del_list
    x = np.arange(steps + 1) / steps
    trap = lambda y, xs: float(abs(np.sum(np.diff(xs) * (np.asarray(y)[1:] + np.asarray(y)[:-1]) / 2)))  # noqa: E731
    return ins, dele, trap(ins, x), trap(dele, 1 - x)


def reference_xplique(bb: BlackBox, image: np.ndarray, sal: np.ndarray, label: int, steps: int = 10):
    """Xplique CausalFidelity (spec §B.2): k_j = int(linspace(0, P, K+1)), baseline 0, AUC = mean of pairs."""
    hw = sal.size
    order = np.argsort(-sal.ravel(), kind="stable")
    ks = np.linspace(0, hw, steps + 1).astype(int)
    flat = image.reshape(3, hw)
    ins, dele = [], []
    for k in ks:
        x_del = flat.copy()
        x_del[:, order[:k]] = 0.0
        x_ins = np.zeros_like(flat)
        x_ins[:, order[:k]] = flat[:, order[:k]]
        ins.append(model_probs(bb, x_ins.reshape(image.shape))[label])
        dele.append(model_probs(bb, x_del.reshape(image.shape))[label])
    auc = lambda s: float(np.mean([(s[j] + s[j + 1]) / 2 for j in range(steps)]))  # noqa: E731
    return ins, dele, auc(ins), auc(dele)


def reference_mufidelity(bb: BlackBox, image: np.ndarray, sal: np.ndarray, label: int, masks: np.ndarray) -> float:
    """Xplique MuFidelity (spec §B.3) for one image with the given kept-masks (T, H, W)."""
    from scipy.stats import spearmanr

    base = model_probs(bb, image)[label]
    drops = [base - model_probs(bb, image * m[None])[label] for m in masks]
    attrs = [float((sal * (1 - m)).sum()) for m in masks]
    value = spearmanr(drops, attrs)[0]
    return 0.0 if np.isnan(value) else float(value)


@pytest.fixture
def smooth_case():
    """A toy model with a non-trivial normalisation, 2 images and smooth random maps (no ties)."""
    clf = toy_classifier(num_classes=5, size=SIZE, seed=3)
    clf.mean.copy_(torch.tensor([0.4, 0.5, 0.6]).view(1, 3, 1, 1))
    clf.std.copy_(torch.tensor([0.2, 0.25, 0.3]).view(1, 3, 1, 1))
    bb = BlackBox(clf, batch_size=7)
    gen = torch.Generator().manual_seed(2)
    images = torch.rand(2, 3, SIZE, SIZE, generator=gen, dtype=torch.float64).float()
    maps = torch.rand(2, SIZE, SIZE, generator=gen)
    return bb, images, maps, [1, 3]


def test_rise2018_equals_reference(smooth_case):
    bb, images, maps, _ = smooth_case
    res = insertion_deletion(bb, images, maps, "rise2018", batch_size=3)
    for i in range(2):
        ins, dele = reference_rise(bb, images[i].double().numpy(), maps[i].numpy())
        np.testing.assert_allclose(res.insertion_curves[i], ins, atol=2e-6)
        np.testing.assert_allclose(res.deletion_curves[i], dele, atol=2e-6)
        assert res.insertion_aucs[i] == pytest.approx(uniform_auc(ins), abs=2e-6)


def test_smdl_baseline_equals_reference(smooth_case):
    bb, images, maps, labels = smooth_case
    res = insertion_deletion(bb, images, maps, "smdl_baseline", targets=labels, batch_size=16)
    for i in range(2):
        ins, dele, ins_auc, del_auc = reference_smdl_baseline(bb, images[i].double().numpy(), maps[i].numpy(), labels[i])
        np.testing.assert_allclose(res.insertion_curves[i], ins, atol=2e-6)
        np.testing.assert_allclose(res.deletion_curves[i], dele, atol=2e-6)
        assert (res.insertion_aucs[i], res.deletion_aucs[i]) == pytest.approx((ins_auc, del_auc), abs=2e-6)


def test_xplique_equals_reference(smooth_case):
    bb, images, maps, labels = smooth_case
    res = insertion_deletion(bb, images, maps, "xplique", targets=labels)
    for i in range(2):
        ins, dele, ins_auc, del_auc = reference_xplique(bb, images[i].double().numpy(), maps[i].numpy(), labels[i])
        np.testing.assert_allclose(res.insertion_curves[i], ins, atol=2e-6)
        assert (res.insertion_aucs[i], res.deletion_aucs[i]) == pytest.approx((ins_auc, del_auc), abs=2e-6)


def reference_la(bb: BlackBox, image: np.ndarray, attr: np.ndarray, step: int) -> tuple[list, list]:
    """LA ``eval.py`` (specs/la.md §4), written from the spec: the 3·H·W elements ordered by descending value
    (ties by flat index), zero substrate for both games, 3·step elements per step, n = ceil(HW/step) steps,
    class = top-1 of the clean image."""
    flat = image.ravel()
    order = np.argsort(-attr.ravel(), kind="stable")
    n = -(-image[0].size // step)
    cls = int(np.argmax(model_probs(bb, image)))
    ins, dele = [], []
    for i in range(n + 1):
        changed = order[: min(3 * step * i, flat.size)]
        x_ins = np.zeros_like(flat)
        x_ins[changed] = flat[changed]
        x_del = flat.copy()
        x_del[changed] = 0.0
        ins.append(model_probs(bb, x_ins.reshape(image.shape))[cls])
        dele.append(model_probs(bb, x_del.reshape(image.shape))[cls])
    return ins, dele


@pytest.mark.parametrize("native", [False, True], ids=["map_repeated_over_channels", "three_channel_map"])
def test_la_preset_equals_reference(smooth_case, native):
    """The ``la`` preset against LA's protocol written from the spec (element ranking, 3·step per step)."""
    bb, images, maps, _ = smooth_case
    step = 24  # 16x16: ceil(256 / 24) = 11 steps, the last one partial
    three = torch.rand(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(5)) if native else None
    preset = get_preset("la", pixels_per_step=step)
    res = insertion_deletion(bb, images, maps, preset, batch_size=7, la_maps=three)
    assert res.insertion_curves.shape == (2, 12)
    for i in range(2):
        attr = (three[i] if native else maps[i].expand(3, SIZE, SIZE)).double().numpy()
        ins, dele = reference_la(bb, images[i].double().numpy(), attr, step)
        np.testing.assert_allclose(res.insertion_curves[i], ins, atol=2e-6)
        np.testing.assert_allclose(res.deletion_curves[i], dele, atol=2e-6)
        assert res.insertion_aucs[i] == pytest.approx(uniform_auc(ins), abs=2e-6)


def test_mufidelity_equals_reference(smooth_case):
    bb, images, maps, labels = smooth_case
    config = get_mufidelity_preset("smdl_clip", grid_size=5, nb_samples=12)
    res = mufidelity(bb, images, maps, labels, config, generator=torch.Generator().manual_seed(4), batch_size=5)
    masks = draw_masks(config, SIZE, SIZE, torch.Generator().manual_seed(4)).double().numpy()
    for i in range(2):
        ref = reference_mufidelity(bb, images[i].double().numpy(), maps[i].double().numpy(), labels[i], masks)
        assert res.scores[i] == pytest.approx(ref, abs=1e-9)


def test_mufidelity_masks_fraction_and_exact_count():
    bern = draw_masks(get_mufidelity_preset("xplique", grid_size=8, nb_samples=400), 16, 16)
    assert 0.17 < float(1 - bern.mean()) < 0.23
    exact = draw_masks(get_mufidelity_preset("xplique", grid_size=8, nb_samples=5, subset_sampling="exact"), 8, 8)
    assert ((1 - exact).sum(dim=(1, 2)) == int(64 * 0.2)).all()


@pytest.mark.parametrize("preset", list(PRESETS))
def test_causal_batch_size_invariance(smooth_case, preset):
    bb, images, maps, labels = smooth_case
    a = insertion_deletion(bb, images, maps, preset, targets=labels, batch_size=1)
    bb.batch_size = 64
    b = insertion_deletion(bb, images, maps, preset, targets=labels, batch_size=50)
    np.testing.assert_allclose(a.insertion_curves, b.insertion_curves, atol=1e-6)
    np.testing.assert_allclose(a.deletion_curves, b.deletion_curves, atol=1e-6)


def test_mufidelity_batch_size_invariance_and_seed(smooth_case):
    bb, images, maps, labels = smooth_case
    config = get_mufidelity_preset("smdl_cub", grid_size=4)
    a = mufidelity(bb, images, maps, labels, config, torch.Generator().manual_seed(9), batch_size=1)
    b = mufidelity(bb, images, maps, labels, config, torch.Generator().manual_seed(9), batch_size=40)
    np.testing.assert_allclose(a.score_drops, b.score_drops, atol=1e-6)
    assert a.score == pytest.approx(b.score)


def test_highest_confidence_dense():
    curve = np.array([0.0, 0.1, 0.5, 0.3, 0.9])  # T = 4: areas 0.25, 0.5, 0.75, 1
    out = highest_confidence_dense(curve, [0.2, 0.5, 0.75, 1.0])
    assert out == [None, (0.5, 0.5), (0.5, 0.5), (0.9, 1.0)]


def test_smdl_saliency_map_rank_map_and_stack_agree():
    rank_map = np.array([[0, 0, 2], [1, 1, 2]], dtype=np.int16)
    expected = np.array([[1.0, 1.0, 1 / 3], [2 / 3, 2 / 3, 1 / 3]], dtype=np.float32)
    np.testing.assert_allclose(smdl_saliency_map(rank_map), expected)
    photo = np.full((2, 3, 3), 50, np.uint8)
    stack = np.stack([photo * (rank_map == r)[..., None] for r in range(3)])
    np.testing.assert_allclose(smdl_saliency_map(stack), expected)


def test_metric_metadata():
    assert METRICS["insertion_rise2018"].higher_is_better
    assert not METRICS["deletion_smdl_baseline"].higher_is_better
    assert METRICS["deletion_smdl_baseline"].scored_class == "label"
    assert METRICS["mufidelity_smdl_clip"].stochastic
