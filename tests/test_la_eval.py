"""LA's Insertion/Deletion metric on analytic models, and eval_la's CSV / npz resume behaviour."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
import torch
from torch import nn

from common.errors import ToolkitError
from evals import eval_la
from evals.la_insertion_deletion import (
    element_ranks,
    insertion_deletion,
    normalised_auc,
    num_steps,
    step_thresholds,
)


def _two_class_logits(p0: torch.Tensor) -> torch.Tensor:
    """Logits whose softmax is exactly ``[p0, 1 - p0]`` (p0 in [0, 1], ``(B,)``)."""
    return torch.stack([torch.log(p0), torch.log1p(-p0)], dim=1)


class FractionModel(nn.Module):
    """p_0(x') = weighted fraction of elements of x' equal to the reference image x."""

    def __init__(self, reference: torch.Tensor, weights: torch.Tensor | None = None) -> None:
        super().__init__()
        self.reference = reference
        self.weights = torch.ones_like(reference) if weights is None else weights

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        equal = (x == self.reference).double()
        p0 = (equal * self.weights).flatten(1).sum(1) / self.weights.sum()
        return _two_class_logits(p0.clamp(0, 1))


class OneElementModel(nn.Module):
    """p_0(x') = x'[flat index j]: reads one element."""

    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _two_class_logits(x.flatten(1)[:, self.index].double())


def reference_games(prob_fn, image: np.ndarray, attribution: np.ndarray, step: int) -> tuple[list, list]:
    """A direct port of the original loop (one image, one step at a time) with a stable descending order."""
    channels, height, width = image.shape
    n = math.ceil(height * width / step)
    order = np.argsort(-attribution.ravel(), kind="stable")
    cls = int(np.argmax(prob_fn(image)))
    curves = []
    for start, finish in ((np.zeros_like(image), image), (image, np.zeros_like(image))):
        canvas = start.ravel().copy()
        scores = []
        for i in range(n + 1):
            scores.append(float(prob_fn(canvas.reshape(image.shape))[cls]))
            if i < n:
                idx = order[channels * step * i: channels * step * (i + 1)]
                canvas[idx] = finish.ravel()[idx]
        curves.append(scores)
    return curves[0], curves[1]


def _prob_fn(model):
    return lambda arr: model(torch.from_numpy(arr)[None]).softmax(-1)[0].numpy()


def test_steps_and_thresholds_follow_la_protocol():
    assert num_steps(224, 224, 224) == 224
    thr = step_thresholds(3, 224, 224, 224)
    assert thr.shape == (225,)
    assert thr[1] == 672 and thr[-1] == 3 * 224 * 224
    # 5x5 with step 4: ceil(25/4) = 7 steps of 12 elements, the last one only 3.
    assert step_thresholds(3, 5, 5, 4).tolist() == [0, 12, 24, 36, 48, 60, 72, 75]


def test_element_ranks_descending_with_stable_ties():
    attr = torch.tensor([[[[0.5, -1.0], [0.5, 2.0]]]])  # (1, 1, 2, 2); 0.5 ties at flat 0 and 2
    assert element_ranks(attr).flatten().tolist() == [1, 3, 2, 0]
    with pytest.raises(ToolkitError, match="NaN"):
        element_ranks(torch.tensor([[[[float("nan")]]]]))


def test_uniform_fraction_model_gives_exact_auc_for_uneven_last_step():
    torch.manual_seed(0)
    x = torch.rand(1, 3, 5, 5) * 0.9 + 0.1  # no element equals the zero substrate
    model = FractionModel(x)
    res = insertion_deletion(model, x, torch.randn(1, 3, 5, 5), step=4, batch_size=3)
    fractions = np.array([0, 12, 24, 36, 48, 60, 72, 75]) / 75
    np.testing.assert_allclose(res.insertion_curve, fractions, atol=1e-12)
    np.testing.assert_allclose(res.deletion_curve, 1 - fractions, atol=1e-12)
    expected_ins = (12 * 21 / 75 + 0.5) / 7  # (sum - first/2 - last/2) / n_steps by hand
    assert res.insertion_auc == pytest.approx(expected_ins, abs=1e-12)
    assert res.deletion_auc == pytest.approx(1 - expected_ins, abs=1e-12)
    assert res.n_steps == 7 and res.targets.tolist() == [0]


def test_full_size_protocol_has_225_points_and_auc_one_half():
    x = torch.rand(1, 3, 224, 224) * 0.9 + 0.1
    res = insertion_deletion(FractionModel(x), x, torch.randn(1, 3, 224, 224), batch_size=128)
    assert res.insertion_curve.shape == (225,) and res.deletion_curves.shape == (1, 225)
    np.testing.assert_allclose(res.insertion_curve, np.arange(225) / 224, atol=1e-12)
    assert res.insertion_auc == pytest.approx(0.5, abs=1e-12)
    assert res.deletion_auc == pytest.approx(0.5, abs=1e-12)


@pytest.mark.parametrize("attr_kind", ["ranked", "ties"])
def test_one_element_model_step_function(attr_kind):
    # 8x8, step 4: 16 steps of 12 elements. Element j=50 has rank 50 -> it enters at step k = 50 // 12 + 1 = 5.
    x = torch.zeros(1, 3, 8, 8)
    x.view(-1)[50] = 0.75  # exact in float32
    attr = -torch.arange(192.0).view(1, 3, 8, 8) if attr_kind == "ranked" else torch.zeros(1, 3, 8, 8)
    res = insertion_deletion(OneElementModel(50), x, attr, step=4, batch_size=5)
    n, k, v = 16, 5, 0.75
    assert res.targets.tolist() == [0]  # the clean prediction: p_0 = 0.75
    assert res.insertion_auc == pytest.approx(v * ((n - k + 1) - 0.5) / n, abs=1e-12)  # 0.5390625
    assert res.deletion_auc == pytest.approx(v * (k - 0.5) / n, abs=1e-12)  # 0.2109375
    expected = np.where(np.arange(n + 1) >= k, v, 0.0)
    np.testing.assert_allclose(res.insertion_curve, expected, atol=1e-12)


def test_scores_the_clean_prediction_not_class_zero():
    x = torch.zeros(1, 3, 8, 8)
    x.view(-1)[0] = 0.3  # p = [0.3, 0.7] -> class 1 is predicted and scored
    res = insertion_deletion(OneElementModel(0), x, -torch.arange(192.0).view(1, 3, 8, 8), step=4)
    assert res.targets.tolist() == [1]
    # insertion: p_1 = 1 on the zero canvas, 0.7 from step 1 on
    assert res.insertion_curve[0] == pytest.approx(1.0) and res.insertion_curve[1] == pytest.approx(0.7)


def test_perfect_ranking_beats_reversed_ranking():
    torch.manual_seed(1)
    x = torch.rand(1, 3, 6, 6) * 0.9 + 0.1
    w = torch.rand(1, 3, 6, 6) ** 4
    model = FractionModel(x, w)
    good = insertion_deletion(model, x, w, step=3)
    bad = insertion_deletion(model, x, -w, step=3)
    assert good.insertion_auc > bad.insertion_auc + 0.2
    assert good.deletion_auc < bad.deletion_auc - 0.2


def test_matches_slow_reference_and_is_batch_size_invariant():
    torch.manual_seed(2)
    x = torch.rand(3, 3, 7, 5) * 0.9 + 0.1
    w = torch.rand(3, 3, 7, 5)
    attr = torch.randn(3, 3, 7, 5).round(decimals=1)  # rounded: many ties
    model = FractionModel(x[:1], w[:1])  # same model for all three images
    results = [insertion_deletion(model, x, attr, step=3, batch_size=bs, image_group=g)
               for bs, g in ((1, 1), (7, 2), (1000, 16))]
    for other in results[1:]:
        np.testing.assert_allclose(other.insertion_curves, results[0].insertion_curves, atol=1e-12)
        np.testing.assert_allclose(other.deletion_curves, results[0].deletion_curves, atol=1e-12)
    for i in range(3):
        ins, dele = reference_games(_prob_fn(model), x[i].numpy(), attr[i].numpy(), step=3)
        np.testing.assert_allclose(results[0].insertion_curves[i], ins, atol=1e-12)
        np.testing.assert_allclose(results[0].deletion_curves[i], dele, atol=1e-12)
    mean_auc = normalised_auc(results[0].insertion_curve)
    assert mean_auc == pytest.approx(results[0].insertion_aucs.mean(), abs=1e-12)


def test_accepts_numpy_memmap_and_blackbox(tmp_path):
    from models import BlackBox, ImageClassifier

    torch.manual_seed(3)
    body = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    clf = ImageClassifier(body, nn.Linear(4, 5), (0.5,) * 3, (0.25,) * 3, 8, "toy", [str(i) for i in range(5)])
    box = BlackBox(clf, batch_size=4)
    x = torch.rand(2, 3, 8, 8)
    attr = torch.randn(2, 3, 8, 8)
    np.save(tmp_path / "a.npy", attr.numpy())
    res = insertion_deletion(box, x.numpy(), np.load(tmp_path / "a.npy", mmap_mode="r"), step=8, batch_size=6)
    direct = insertion_deletion(clf.eval(), x, attr, step=8, batch_size=6)
    np.testing.assert_allclose(res.insertion_curves, direct.insertion_curves, atol=1e-5)
    assert box.forward_count == 2 * 2 * 9 + 2  # two games x 2 images x 9 points + the clean predictions


def test_rejects_shape_mismatch():
    with pytest.raises(ToolkitError, match="same shape"):
        insertion_deletion(OneElementModel(0), torch.zeros(1, 3, 4, 4), torch.zeros(1, 1, 4, 4))


# ---------------------------------------------------------------- eval_la: CSV rows and npz reuse

def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


def test_csv_append_writes_header_once_and_never_duplicates(tmp_path):
    path = tmp_path / "out" / "results.csv"
    la_row = eval_la.result_row("m", "la", 10, 20, 30, 0.12345678, 0.05)
    assert la_row["insertion"] == "0.123457" and la_row["samples_number"] == "30"
    assert eval_la.append_result_row(path, la_row)
    assert not eval_la.append_result_row(path, eval_la.result_row("m", "la", 10, 20, 30, 0.9, 0.9))
    assert eval_la.append_result_row(path, eval_la.result_row("m", "la", 10, 20, 20, 0.2, 0.1))
    assert eval_la.append_result_row(path, eval_la.result_row("m", "ig", 10, 20, 30, 0.3, 0.1))
    assert not eval_la.append_result_row(path, eval_la.result_row("m", "ig", 30, 30, 30, 0.3, 0.1))
    rows = _rows(path)
    assert rows[0] == eval_la.CSV_HEADER
    assert rows[1:] == [["m", "la", "10", "20", "30", "0.123457", "0.05"],
                        ["m", "la", "10", "20", "20", "0.2", "0.1"],
                        ["m", "ig", "-", "-", "-", "0.3", "0.1"]]


def test_scores_path_uses_the_original_names(tmp_path):
    assert eval_la.scores_path("s", "resnet50", "la", 10, 20, 30).as_posix() == \
        "s/resnet50_la_spatial-range-10_max-iter-20_sampling-times-30_scores.npz"
    assert eval_la.scores_path("s", "vgg16", "mfaba").as_posix() == "s/vgg16_mfaba_scores.npz"


def test_existing_npz_is_reused_and_row_appended_once(tmp_path, monkeypatch):
    args = eval_la.build_parser().parse_args([
        "--model", "efficientnet_lite0", "--attr_method", "la", "--spatial_range", "10", "--max_iter", "20",
        "--sampling_times", "30", "--prefix", str(tmp_path / "scores"), "--csv_path", str(tmp_path / "r.csv"),
        "--data", str(tmp_path / "no-data"), "--no-progress"])
    assert args.samples_number == 30
    out = eval_la.scores_path(args.prefix, args.model, "la", 10, 20, 30)
    from evals.causal import CausalResult, get_preset

    eval_la.save_scores(out, CausalResult(get_preset("la"), np.linspace(0, 1, 3), np.zeros((1, 3)), np.zeros((1, 3)),
                                          np.array([0.4]), np.array([0.1]), np.zeros(1, dtype=np.int64)))

    def no_model(*a, **k):
        raise AssertionError("the model must not be loaded when the npz exists")

    monkeypatch.setattr(eval_la, "load_model", no_model)
    eval_la.run(args)
    eval_la.run(args)
    rows = _rows(tmp_path / "r.csv")
    assert rows[1:] == [["efficientnet_lite0", "la", "10", "20", "30", "0.4", "0.1"]]
