"""Baseline attribution methods: paper formulas on hand-set networks, seeds, batch-size invariance, analytic
occlusion, the registry contract (every registered method, automatically) and the map generator."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from baseline_attribution import METHODS, get_method, list_methods
from baseline_attribution.hsic import binary_latin_hypercube, hsic_binary_scores
from baseline_attribution.sobol import jansen_total_order, replicated_designs
from common.errors import ToolkitError
from models.base import BlackBox, ImageClassifier

SIZE = 32
STOCHASTIC = [n for n in list_methods() if METHODS[n].stochastic]
DETERMINISTIC = [n for n in list_methods() if not METHODS[n].stochastic]
# Cheap settings of the known methods (a newly registered method runs at its defaults).
CHEAP = {"rise": {"n_masks": 64}, "hsic": {"n_designs": 32, "grid_size": 4}, "sobol": {"n_designs": 8, "grid_size": 4},
         "lime": {"n_samples": 64}, "kernelshap": {"n_samples": 64}, "occlusion": {"patch_size": 8, "stride": 4},
         "ig": {"n_steps": 8}}


def conv_classifier(num_classes: int = 5, size: int = SIZE, seed: int = 0) -> ImageClassifier:
    """conv3x3(3->4) -> ReLU -> global mean -> linear: a tiny CNN with a CAM layer (``body.0``, its last conv)."""
    gen = torch.Generator().manual_seed(seed)
    body = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    head = nn.Linear(4, num_classes)
    with torch.no_grad():
        for param in [*body.parameters(), *head.parameters()]:
            param.copy_(torch.randn(param.shape, generator=gen))
    names = [f"c{i}" for i in range(num_classes)]
    return ImageClassifier(body, head, (0.5,) * 3, (0.25,) * 3, size, "convtoy", names).eval()


def quadrant_image(size: int = SIZE, seed: int = 1) -> torch.Tensor:
    """``(1, 3, size, size)`` in [0, 1]: four coloured quadrants plus mild noise (several superpixels)."""
    gen = torch.Generator().manual_seed(seed)
    img = torch.zeros(3, size, size)
    half = size // 2
    img[:, :half, :half] = torch.tensor([0.9, 0.1, 0.1])[:, None, None]
    img[:, :half, half:] = torch.tensor([0.1, 0.8, 0.2])[:, None, None]
    img[:, half:, :half] = torch.tensor([0.2, 0.2, 0.9])[:, None, None]
    img[:, half:, half:] = torch.tensor([0.8, 0.8, 0.1])[:, None, None]
    return (img + 0.05 * torch.rand(3, size, size, generator=gen)).clamp(0, 1)[None]


@pytest.fixture
def conv_box() -> BlackBox:
    return BlackBox(conv_classifier(), batch_size=32)


# ---------------------------------------------------------------- CAMs equal their papers' formulas


def hand_net() -> tuple[ImageClassifier, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """conv1x1(3->2) -> ReLU (``body.1``, the CAM layer, at full resolution) -> mean -> linear(2->3), hand-set."""
    conv_w = torch.tensor([[1.0, -1.0, 0.5], [-0.5, 1.0, 1.0]])
    conv_b = torch.tensor([0.1, -0.2])
    head_w = torch.tensor([[2.0, -1.0], [-1.0, 3.0], [0.5, 0.5]])
    head_b = torch.tensor([0.0, 0.1, -0.1])
    body = nn.Sequential(nn.Conv2d(3, 2, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    head = nn.Linear(2, 3)
    with torch.no_grad():
        body[0].weight.copy_(conv_w[:, :, None, None])
        body[0].bias.copy_(conv_b)
        head.weight.copy_(head_w)
        head.bias.copy_(head_b)
    net = ImageClassifier(body, head, (0.0,) * 3, (1.0,) * 3, 8, "hand", ["a", "b", "c"]).eval()
    return net, conv_w, conv_b, head_w, head_b


def scaled(m: torch.Tensor, eps: float) -> torch.Tensor:
    return (m - m.min()) / (m.max() - m.min() + eps)


def test_gradcam_and_gradcampp_equal_paper_formulas():
    net, conv_w, conv_b, head_w, _ = hand_net()
    x = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(3))
    acts = torch.relu(torch.einsum("kc,chw->khw", conv_w, x[0]) + conv_b[:, None, None])  # A (2, 8, 8)
    for cls in range(3):
        # y_c = sum_k W_ck mean(A_k) + b_c, so dy_c/dA_k[i, j] = W_ck / 64 and alpha_k = W_ck / 64.
        expected = scaled(torch.relu(torch.einsum("k,khw->hw", head_w[cls] / 64, acts)), 1e-7)
        got = get_method("gradcam", layer="body.1").attribute(BlackBox(net), x, torch.tensor([cls]))[0]
        torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-5)
        # Grad-CAM++: alpha_k = g^2 / (2 g^2 + sum(A_k) g^3) with the uniform g = W_ck / 64, w_k = 64 alpha_k ReLU(g)
        grad = head_w[cls] / 64
        # eps = 1e-6 in the denominator by default (pytorch-grad-cam's), none with eps=0 (Xplique's)
        for eps in (1e-6, 0.0):
            alpha = grad**2 / (2 * grad**2 + acts.sum(dim=(1, 2)) * grad**3 + eps)
            weights = 64 * alpha * torch.relu(grad)
            expected = scaled(torch.relu(torch.einsum("k,khw->hw", weights, acts)), 1e-7)
            got = get_method("gradcampp", layer="body.1", eps=eps).attribute(BlackBox(net), x, torch.tensor([cls]))[0]
            torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-5)


def test_scorecam_equals_paper_formula():
    net, conv_w, conv_b, head_w, head_b = hand_net()
    x = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(4))

    def logits(img: torch.Tensor) -> torch.Tensor:
        feats = torch.relu(torch.einsum("kc,chw->khw", conv_w, img) + conv_b[:, None, None]).mean(dim=(1, 2))
        return head_w @ feats + head_b

    acts = torch.relu(torch.einsum("kc,chw->khw", conv_w, x[0]) + conv_b[:, None, None])
    for cls in range(3):
        # Score-CAM: s_k = softmax(f(x * minmax(A_k)))_c; map = ReLU(sum_k s_k A_k).
        scores = torch.stack([logits(x[0] * scaled(acts[k], 1e-8)).softmax(0)[cls] for k in range(2)])
        expected = scaled(torch.relu(torch.einsum("k,khw->hw", scores, acts)), 1e-7)
        box = BlackBox(net, batch_size=1)
        got = get_method("scorecam", layer="body.1").attribute(box, x, torch.tensor([cls]))[0]
        torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-5)
        assert box.forward_count == 1 + 2  # activations + one masked image per channel
        # pytorch-grad-cam's variant: raw logits, softmax over the channels
        raw = torch.stack([logits(x[0] * scaled(acts[k], 1e-8))[cls] for k in range(2)])
        expected = scaled(torch.relu(torch.einsum("k,khw->hw", raw.softmax(0), acts)), 1e-7)
        got = get_method("scorecam", layer="body.1", score="logit", channel_softmax=True).attribute(box, x, cls)[0]
        torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-5)


def test_cam_hooks_are_released(conv_box):
    for name in ("gradcam", "gradcampp", "scorecam"):
        get_method(name).attribute(conv_box, quadrant_image(), 0)
        assert all(not m._forward_hooks for m in conv_box.classifier.modules())


def test_cam_layer_errors(conv_box):
    with pytest.raises(ToolkitError, match="--layer nope"):
        get_method("gradcam", layer="nope").attribute(conv_box, quadrant_image(), 0)
    with pytest.raises(ToolkitError, match="not a \\(B, K, h, w\\)"):
        get_method("gradcam", layer="body.3").attribute(conv_box, quadrant_image(), 0)


# ---------------------------------------------------------------- seeds, batch size


@pytest.mark.parametrize("name", STOCHASTIC)
def test_stochastic_methods_reproduce_under_a_seed(conv_box, name):
    method = get_method(name, **CHEAP.get(name, {}))
    x = quadrant_image()
    first = method.attribute(conv_box, x, 2, generator=torch.Generator().manual_seed(5))
    again = method.attribute(conv_box, x, 2, generator=torch.Generator().manual_seed(5))
    other = method.attribute(conv_box, x, 2, generator=torch.Generator().manual_seed(6))
    assert first.numpy().tobytes() == again.numpy().tobytes()
    assert not torch.equal(first, other)


@pytest.mark.parametrize("name", list_methods())
def test_batch_size_invariance(name):
    """Forward chunk size and the images' grouping do not change a map (stochastic: same seed)."""
    method = get_method(name, **CHEAP.get(name, {}))
    x = torch.cat([quadrant_image(seed=1), quadrant_image(seed=2).flip(-1)])
    target = torch.tensor([1, 3])

    def run(batch_size: int, images: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        gen = torch.Generator().manual_seed(9) if method.stochastic else None
        return method.attribute(BlackBox(conv_classifier(), batch_size=batch_size), images, tgt, generator=gen)

    reference = run(64, x, target)
    torch.testing.assert_close(run(3, x, target), reference, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(run(5, x[1:], target[1:])[0], reference[1], atol=1e-5, rtol=1e-4)


# ---------------------------------------------------------------- analytic occlusion, estimators


class ReadsOnePatch(nn.Module):
    """Feature = mean of the pixels in rows 8..15, cols 16..23 (one 8 x 8 patch), summed over channels."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, 8:16, 16:24].mean(dim=(1, 2, 3))[:, None]


def test_occlusion_lights_exactly_the_patch_the_model_reads():
    head = nn.Linear(1, 2)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[4.0], [-4.0]]))
        head.bias.zero_()
    net = ImageClassifier(ReadsOnePatch(), head, (0.0,) * 3, (1.0,) * 3, SIZE, "patch", ["on", "off"]).eval()
    box = BlackBox(net, batch_size=6)
    saliency = get_method("occlusion", patch_size=8, stride=8).attribute(box, quadrant_image(), 0)[0]
    lit = saliency != 0
    expected = torch.zeros(SIZE, SIZE, dtype=torch.bool)
    expected[8:16, 16:24] = True
    assert torch.equal(lit, expected)
    assert bool((saliency[expected] > 0).all())
    assert box.forward_count == 1 + 16  # the image + 4 x 4 patch positions of 8 px


def test_ig_map_is_local_attributions_ig_through_the_counted_black_box(conv_box):
    from local_attribution import get_method as get_gradient_method

    x = torch.cat([quadrant_image(), quadrant_image(seed=2)])
    got = get_method("ig", n_steps=6).attribute(conv_box, x, torch.tensor([0, 3]))
    expected = get_gradient_method("ig", n_steps=6).attribute(conv_box.classifier, x, torch.tensor([0, 3])).mean(dim=1)
    torch.testing.assert_close(got, expected)
    assert conv_box.forward_count == 2 * 6


def test_hsic_estimator_equals_the_trace_formula():
    """tr(H K H H L H) / n with the explicit Dirac and RBF Gram matrices, one variable at a time."""
    gen = torch.Generator().manual_seed(0)
    designs = binary_latin_hypercube(20, 5, gen)
    assert torch.equal(designs.unique(), torch.tensor([0.0, 1.0]))
    outputs = designs[:, 1] * 0.7 + 0.1 * torch.rand(20, generator=gen)
    n = 20
    centring = torch.eye(n, dtype=torch.float64) - 1.0 / n
    y = outputs.double()
    width = y.median()
    gram_out = torch.exp(-(y[:, None] - y[None]) ** 2 / (2 * width**2))
    expected = []
    for d in range(5):
        xd = designs[:, d].double()
        gram_in = 1 + 0.5 - (xd[:, None] - xd[None]) ** 2
        expected.append(torch.trace(centring @ gram_in @ centring @ centring @ gram_out @ centring) / n)
    got = hsic_binary_scores(designs, outputs)
    torch.testing.assert_close(got, torch.stack(expected))
    assert int(got.argmax()) == 1


def test_sobol_jansen_finds_the_only_variable_that_matters():
    designs = replicated_designs(64, 4, seed=0)
    outputs = designs[:, 2] ** 2  # f depends on x_2 only: total indices (0, 0, 1, 0)
    indices = jansen_total_order(outputs, 64, 4)
    assert indices[[0, 1, 3]].abs().max() < 1e-9
    assert abs(float(indices[2]) - 1.0) < 0.2


# ---------------------------------------------------------------- registry contract (every registered method)


@pytest.mark.parametrize("name", list_methods())
def test_every_registered_method_meets_the_contract(conv_box, name):
    cls = METHODS[name]
    assert cls.name == name and cls.display_name and isinstance(cls.default_params, dict)
    assert cls.model_output in ("probabilities", "logits", "layer")
    conv_box.forward_count = 0
    gen = torch.Generator().manual_seed(0) if cls.stochastic else None
    maps = get_method(name, **CHEAP.get(name, {})).attribute(conv_box, torch.cat([quadrant_image(), quadrant_image(seed=2)]), torch.tensor([0, 4]),
                                      generator=gen)
    assert maps.shape == (2, SIZE, SIZE) and maps.dtype == torch.float32 and maps.device.type == "cpu"
    assert bool(torch.isfinite(maps).all())
    assert conv_box.forward_count > 0


def test_registry_errors():
    with pytest.raises(ToolkitError, match="unknown baseline method"):
        get_method("nope")
    with pytest.raises(ToolkitError, match="--grid: not a parameter of rise"):
        get_method("rise", grid=3)


# ---------------------------------------------------------------- the generator


def write_eval_list(tmp_path):
    from PIL import Image

    (tmp_path / "data" / "sub").mkdir(parents=True)
    for rel, seed in (("a.png", 1), ("sub/b.png", 2)):
        pixels = (quadrant_image(seed=seed)[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
        Image.fromarray(pixels).save(tmp_path / "data" / rel)
    listing = tmp_path / "list.txt"
    listing.write_text("a.png 1\nsub/b.png\nmissing.png 1\n")
    return listing


def test_generator_layout_resume_and_bad_samples(tmp_path, monkeypatch):
    from baseline_attribution import generate_explanation_maps as gen

    loads = []

    def fake_load_model(name, weights=None, device="cpu", batch_size=32):
        loads.append(name)
        return BlackBox(conv_classifier(), batch_size=batch_size)

    monkeypatch.setattr("baseline_attribution.runner.load_model", fake_load_model)
    listing = write_eval_list(tmp_path)
    argv = ["--method", "rise", "--n-masks", "16", "--eval-list", str(listing), "--Datasets", str(tmp_path / "data"),
            "--save-dir", str(tmp_path / "out"), "--run", "toy", "--no-progress", "--batch-size", "4"]
    method_dir, report = gen.main(argv)
    assert method_dir == tmp_path / "out" / "toy" / "Rise-n_masks=16"
    assert (report.done, report.failed) == (2, 1)
    first = np.load(method_dir / "1" / "a.npy")
    assert first.shape == (SIZE, SIZE) and first.dtype == np.float32
    assert np.load(method_dir / "top1" / "sub" / "b.npy").shape == (SIZE, SIZE)
    assert "missing.png" in (method_dir / "errors.jsonl").read_text()
    assert [json.loads(line)["forwards"] for line in (method_dir / "log.jsonl").read_text().splitlines()] == [16, 17]
    stamp = (method_dir / "1" / "a.npy").stat().st_mtime_ns
    # second run: the finished maps are skipped, the model is not even loaded for them
    (tmp_path / "data" / "missing.png").write_bytes((tmp_path / "data" / "a.png").read_bytes())
    _, again = gen.main(argv)
    assert (again.done, again.skipped) == (1, 2)
    assert (method_dir / "1" / "a.npy").stat().st_mtime_ns == stamp
    _, third = gen.main(argv)
    assert third.skipped == 3 and len(loads) == 2
    # a map reproduces bit for bit with the same seed
    assert np.array_equal(np.load(method_dir / "1" / "missing.npy"), first)


def test_generator_binds_its_folder_once_and_resumes_only_its_own_maps(tmp_path, monkeypatch, capsys):
    """config.json is written once; another --seed (stochastic method) or --weights file into the same folder is
    refused with one line; a map whose sidecar is missing or of another key is recomputed, not served."""
    from baseline_attribution import generate_explanation_maps as gen

    monkeypatch.setattr("baseline_attribution.runner.load_model", lambda name, weights=None, device="cpu", batch_size=32:
                        BlackBox(conv_classifier(), batch_size=batch_size))
    listing = write_eval_list(tmp_path)
    listing.write_text("a.png 1\nsub/b.png 2\n")
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"one")
    argv = ["--method", "rise", "--n-masks", "8", "--eval-list", str(listing), "--Datasets", str(tmp_path / "data"),
            "--save-dir", str(tmp_path / "out"), "--run", "toy", "--no-progress", "--weights", str(weights)]
    method_dir, first = gen.main(argv)
    config = (method_dir / "config.json").read_text()
    key = json.loads(config)["identity_key"]
    assert first.done == 2 and json.loads((method_dir / "1" / "a.json").read_text())["identity_key"] == key
    capsys.readouterr()
    for more in (["--seed", "1"], ["--weights", str(tmp_path / "w2.pth")]):
        (tmp_path / "w2.pth").write_bytes(b"two")
        with pytest.raises(SystemExit) as info:
            gen.main(argv + more)
        err = capsys.readouterr().err.strip()
        assert info.value.code == 2 and err.count("\n") == 0 and "holds results of other settings" in err, err
        assert ("seed: 0 -> 1" if more[0] == "--seed" else "weights_sha256") in err, err
    # batch size does not change the maps: resumed, config.json untouched
    _, again = gen.main(argv + ["--batch-size", "3"])
    assert (again.done, again.skipped) == (0, 2)
    assert (method_dir / "config.json").read_text() == config
    # a map without its sidecar, and one whose sidecar has another key, are recomputed
    (method_dir / "1" / "a.json").unlink()
    sidecar = method_dir / "2" / "sub" / "b.json"
    sidecar.write_text(json.dumps({**json.loads(sidecar.read_text()), "identity_key": "0" * 16}))
    _, redo = gen.main(argv)
    assert (redo.done, redo.skipped) == (2, 0)
    assert json.loads(sidecar.read_text())["identity_key"] == key


def test_specs_are_the_registry_and_every_parameter_is_declared_once():
    """The torch-free specs list exactly the registered methods, with each dataclass's fields and defaults
    (registration refuses a class whose fields differ; this checks no spec lacks a class and vice versa)."""
    import dataclasses

    from baseline_attribution.specs import SPECS

    assert list(SPECS) == list_methods() and sorted(SPECS) == sorted(METHODS)
    for name, cls in METHODS.items():
        fields = {f.name: f.default for f in dataclasses.fields(cls)}
        assert fields == SPECS[name].defaults() == cls.default_params, name


@pytest.mark.parametrize("argv, message", [
    (["--method", "gradcam", "--n-masks", "5"], "--n-masks: not a parameter of --method gradcam"),
    (["--method", "rise", "--batch-size", "0"], "--batch-size 0"),
    (["--method", "rise", "--device", "tpu"], "--device tpu"),
    (["--method", "rise", "--n-masks", "many"], "--n-masks many: rise needs an integer >= 1"),
    (["--method", "rise", "--n-masks", "0"], "--n-masks 0: rise needs an integer >= 1"),
    (["--method", "rise", "--n-masks", "-5"], "--n-masks -5: rise needs an integer >= 1"),
    (["--method", "rise", "--p-keep", "nan"], "--p-keep nan: rise needs a finite number in (0, 1]"),
    (["--method", "rise", "--p-keep", "2"], "--p-keep 2.0: rise needs a finite number in (0, 1]"),
    (["--method", "rise", "--fill", "pink"], "--fill 'pink': rise needs one of black, grey, mean"),
    (["--method", "hsic", "--grid-size", "0"], "--grid-size 0: hsic needs an integer >= 1"),
    (["--method", "sobol", "--n-designs", "1"], "--n-designs 1: sobol needs an integer >= 2"),
    (["--method", "occlusion", "--stride", "0"], "--stride 0: occlusion needs an integer >= 1"),
    (["--method", "lime", "--kernel-width", "inf"], "--kernel-width inf: lime needs a finite number > 0"),
    (["--method", "ig", "--n-steps", "1"], "--n-steps 1: ig needs an integer >= 2"),
    (["--method", "scorecam", "--channel-softmax", "maybe"], "--channel-softmax maybe: scorecam needs true or false"),
    (["--method", "scorecam", "--score", "odds"], "--score 'odds': scorecam needs one of probability, logit"),
])
def test_generator_refuses_bad_parameters_before_loading_the_model(tmp_path, monkeypatch, capsys, argv, message):
    """Every bad method parameter: one line naming the flag and the allowed range, exit 2, no model loaded."""
    from baseline_attribution import generate_explanation_maps as gen

    monkeypatch.setattr("baseline_attribution.runner.load_model", lambda *a, **k: pytest.fail("model loaded before the flags were checked"))
    with pytest.raises(SystemExit) as exit_info:
        gen.main([*argv, "--save-dir", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2
    assert message in err and err.count("\n") == 0, err
    assert not (tmp_path / DEFAULT_RUN).exists()


DEFAULT_RUN = "efficientnet_lite0"


def test_generator_refuses_a_missing_or_empty_eval_list(tmp_path, monkeypatch, capsys):
    from baseline_attribution import generate_explanation_maps as gen

    monkeypatch.setattr("baseline_attribution.runner.load_model", lambda *a, **k: pytest.fail("model loaded for an empty list"))
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    for listing, message in ((tmp_path / "none.txt", "file not found"), (empty, "no samples in the list")):
        with pytest.raises(SystemExit) as exit_info:
            gen.main(["--method", "rise", "--eval-list", str(listing), "--save-dir", str(tmp_path)])
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err


def test_generator_validation_imports_no_torch(tmp_path):
    """A bad parameter is refused before torch is imported (fast, and before any model)."""
    from .zoo import exit_code_without_torch

    printed, stderr = exit_code_without_torch("baseline_attribution.generate_explanation_maps",
                                              ["--method", "rise", "--p-keep", "2", "--save-dir", str(tmp_path)])
    assert printed == ["2", "False"], stderr
    assert "--p-keep 2.0: rise needs" in stderr


def test_generator_never_writes_a_nan_map(tmp_path, monkeypatch):
    """A map with NaN/inf is logged as failed (errors.jsonl) and not written; the other samples go on; exit 1."""
    from baseline_attribution import generate_explanation_maps as gen
    from baseline_attribution.rise import Rise

    real = Rise._attribute

    def nan_for_class_1(self, blackbox, images, target, generator):
        maps = real(self, blackbox, images, target, generator)
        return maps * float("nan") if int(target[0]) == 1 else maps

    monkeypatch.setattr(Rise, "_attribute", nan_for_class_1)
    monkeypatch.setattr("baseline_attribution.runner.load_model", lambda name, weights=None, device="cpu", batch_size=32:
                        BlackBox(conv_classifier(), batch_size=batch_size))
    listing = write_eval_list(tmp_path)
    listing.write_text("a.png 1\nsub/b.png 2\n")
    method_dir, report = gen.main(["--method", "rise", "--n-masks", "8", "--eval-list", str(listing), "--Datasets",
                                   str(tmp_path / "data"), "--save-dir", str(tmp_path / "out"), "--no-progress"])
    assert (report.done, report.failed) == (1, 1)
    assert not (method_dir / "1" / "a.npy").exists() and not (method_dir / "1" / "a.json").exists()
    assert np.isfinite(np.load(method_dir / "2" / "sub" / "b.npy")).all()
    assert "NaN/inf" in (method_dir / "errors.jsonl").read_text()


def test_generator_help_lists_methods_and_documents_every_flag(capsys):
    from baseline_attribution import generate_explanation_maps as gen

    with pytest.raises(SystemExit):
        gen.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    for action in gen.build_parser()._actions:
        assert action.help, action.option_strings
    assert all(name in text for name in list_methods())
    assert "--n-masks" in text and "rise=4000 (an integer >= 1)" in text
    assert "rise=black (one of black, grey, mean)" in text
    # one flag, the type of the chosen method's default
    args = gen.build_parser().parse_args(["--method", "occlusion", "--fill", "mean"])
    assert gen.chosen_params(args) == {"fill": "mean"}
    args = gen.build_parser().parse_args(["--method", "scorecam", "--channel-softmax", "true", "--layer", "body.0"])
    assert gen.chosen_params(args) == {"channel_softmax": True, "layer": "body.0"}


def test_generator_progress_counts_finished_samples(tmp_path, monkeypatch, capsys):
    """The plain progress line of the last sample is printed only after it is written (never "2/2" while the
    second image is still being computed)."""
    from baseline_attribution import generate_explanation_maps as gen

    monkeypatch.setenv("TOOLKIT_PROGRESS", "plain")
    monkeypatch.setenv("TOOLKIT_PROGRESS_INTERVAL", "0")
    box = BlackBox(conv_classifier(), batch_size=8)
    seen = []
    real_predict = box.predict

    def predict(x, *args, **kwargs):
        seen.append(capsys.readouterr().err)  # what was printed before this forward
        return real_predict(x, *args, **kwargs)

    box.predict = predict
    monkeypatch.setattr("baseline_attribution.runner.load_model", lambda *a, **k: box)
    listing = write_eval_list(tmp_path)
    listing.write_text("a.png 1\nsub/b.png 2\n")
    gen.main(["--method", "rise", "--n-masks", "8", "--eval-list", str(listing), "--Datasets",
              str(tmp_path / "data"), "--save-dir", str(tmp_path / "out")])
    printed = "".join(seen) + capsys.readouterr().err
    assert "2/2 img" in printed
    assert not any("2/2 img" in text for text in seen)  # no "2/2" before the last forward of the second image


# ---------------------------------------------------------------- the real model


def test_every_method_runs_on_lite0_and_a_real_photo(lite0_blackbox, coffee):
    """Every method on EfficientNet-Lite0 with few samples (Score-CAM on an early 16-channel layer): ~60 forwards."""
    cheap = {"rise": {"n_masks": 8}, "hsic": {"n_designs": 8, "grid_size": 2}, "sobol": {"n_designs": 2, "grid_size": 2},
             "lime": {"n_samples": 8}, "kernelshap": {"n_samples": 8}, "occlusion": {"patch_size": 112, "stride": 112},
             "scorecam": {"layer": "body._blocks.0"}, "ig": {"n_steps": 4}}  # Score-CAM: 16 channels, 17 forwards
    x = lite0_blackbox.to_tensor(lite0_blackbox.resize(coffee))
    espresso = 967
    for name in list_methods():
        gen = torch.Generator().manual_seed(0) if METHODS[name].stochastic else None
        maps = get_method(name, **cheap.get(name, {})).attribute(lite0_blackbox, x, espresso, generator=gen)
        assert maps.shape == (1, 224, 224) and bool(torch.isfinite(maps).all()), name
        assert float(maps.max()) > float(maps.min()), name


def test_generator_maps_feed_smdl_prior_division(tmp_path, monkeypatch, lite0_blackbox, coffee):
    """Grad-CAM maps written by the generator are what ``--superpixel-algorithm prior --prior-dir`` reads."""
    from submodular_attribution.regions import DIVISIONS, divide

    if "prior" not in DIVISIONS:
        pytest.skip("the SMDL prior division (branch fam) is not merged here yet")
    from PIL import Image

    from baseline_attribution import generate_explanation_maps as gen
    from submodular_attribution.driver import main as smdl_main
    PRESET = "smdl_explanation_imagenet_superpixel"

    monkeypatch.setattr("baseline_attribution.runner.load_model", lambda *a, **k: lite0_blackbox)
    (tmp_path / "img").mkdir()
    Image.fromarray(coffee).save(tmp_path / "img" / "coffee.png")
    (tmp_path / "list.txt").write_text("coffee.png 967\n")
    data = ["--Datasets", str(tmp_path / "img"), "--eval-list", str(tmp_path / "list.txt"), "--no-progress"]
    method_dir, report = gen.main(["--method", "gradcam", "--save-dir", str(tmp_path / "maps"), *data])
    assert report.done == 1 and method_dir.name == "GradCAM"
    saliency = np.load(method_dir / "967" / "coffee.npy")

    run_dir, smdl_report = smdl_main(PRESET, [*data, "--superpixel-algorithm", "prior", "--prior-dir", str(method_dir),
                                              "--prior-grid-size", "2", "--prior-cells-per-region", "1",
                                              "--save-dir", str(tmp_path / "smdl")])
    assert (smdl_report.done, smdl_report.failed) == (1, 0)
    assert json.loads((run_dir / "json/967/coffee.json").read_text())["sub-k"] == 4
    # region 0 of the division is the 2 x 2 cell where the Grad-CAM map is highest
    labels = divide(lite0_blackbox.resize(coffee), "prior", prior=saliency, grid_size=2, cells_per_region=1)
    cell_means = saliency.reshape(2, 112, 2, 112).mean(axis=(1, 3))
    top = np.unravel_index(cell_means.argmax(), (2, 2))
    assert labels[top[0] * 112 + 56, top[1] * 112 + 56] == 0


# ---------------------------------------------------------------- the one method contract (both families)


def _all_registered() -> list[tuple[str, type]]:
    import local_attribution

    return [*(("baseline", cls) for cls in METHODS.values()), *(("local", cls) for cls in local_attribution.METHODS.values())]


def _bad_values(param) -> list:
    """Values just outside ``param``'s declared range (and NaN for floats)."""
    bad = []
    if param.kind in ("int", "float") and param.low is not None:
        bad.append(param.low if param.low_open else param.low - 1)
    if param.kind in ("int", "float") and param.high is not None:
        bad.append(param.high if param.high_open else param.high + 1)
    if param.kind == "float":
        bad.append(float("nan"))
    if param.kind == "str" and param.choices:
        bad.append("not-a-choice")
    return bad


@pytest.mark.parametrize("family, cls", _all_registered(), ids=lambda v: getattr(v, "name", v))
def test_every_parameter_of_every_method_is_validated_on_construction(family, cls):
    """Constructing a method (directly, not only through get_method) with a value outside its declared range fails
    with a MethodError (a ToolkitError and a ValueError) naming the flag; the defaults construct."""
    import re

    from common.method_contract import MethodError

    cls()  # defaults are valid
    checked = 0
    for param in cls.spec.params:
        for value in _bad_values(param):
            with pytest.raises(MethodError, match=re.escape(param.flag)) as info:
                cls(**{param.name: value})
            assert isinstance(info.value, ToolkitError) and isinstance(info.value, ValueError)
            assert "\n" not in str(info.value)
            checked += 1
    assert checked >= sum(p.kind in ("int", "float") and p.low is not None for p in cls.spec.params)


@pytest.mark.parametrize("family, cls", _all_registered(), ids=lambda v: getattr(v, "name", v))
def test_every_method_has_the_one_attribute_signature_and_metadata(family, cls):
    """``attribute(model, inputs, target=None, *, generator=None, ...)`` and the shared metadata, in both families."""
    import inspect

    from common.method_contract import METADATA, MODEL_OUTPUTS

    params = list(inspect.signature(cls.attribute).parameters.values())
    assert [p.name for p in params[2:4]] == ["inputs", "target"] and params[3].default is None  # after self, model
    generator = inspect.signature(cls.attribute).parameters["generator"]
    assert generator.kind is inspect.Parameter.KEYWORD_ONLY and generator.default is None
    assert all(hasattr(cls, key) for key in METADATA) and cls.model_output in MODEL_OUTPUTS
    assert callable(cls.explain)


def test_cross_parameter_rules_and_tuples():
    import local_attribution
    from common.method_contract import MethodError

    with pytest.raises(MethodError, match="riemann_trapezoid needs --n-steps >= 2"):
        local_attribution.get_method("ig", n_steps=1)
    assert local_attribution.get_method("ig", n_steps=1, method="riemann_left").n_steps == 1
    with pytest.raises(MethodError, match="--ti-kernel-size must be odd"):
        local_attribution.get_method("attexplore", ti_kernel_size=4)
    with pytest.raises(MethodError, match="clip_min must be below clip_max"):
        local_attribution.get_method("la", clip_min=1.0, clip_max=0.0)
    assert local_attribution.get_method("big", epsilons=[0.1, 0.2]).epsilons == (0.1, 0.2)
    with pytest.raises(MethodError, match="--epsilons"):
        local_attribution.get_method("big", epsilons=[])


@pytest.mark.parametrize("name", STOCHASTIC)
def test_default_generator_is_seeded_and_the_global_rng_untouched(conv_box, name):
    """No generator = the one seeded with DEFAULT_SEED (the same map every call), as for the local methods."""
    from common.method_contract import DEFAULT_SEED

    method = get_method(name, **CHEAP.get(name, {}))
    x = quadrant_image()
    state = torch.get_rng_state()
    first = method.attribute(conv_box, x, 2)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(first, method.attribute(conv_box, x, 2))
    assert torch.equal(first, method.attribute(conv_box, x, 2, generator=torch.Generator().manual_seed(DEFAULT_SEED)))


def test_baseline_target_defaults_to_the_top1(conv_box):
    x = torch.cat([quadrant_image(seed=1), quadrant_image(seed=2).flip(-1)])
    top1 = conv_box.predict(x).argmax(dim=1)
    method = get_method("occlusion", **CHEAP["occlusion"])
    assert torch.equal(method.attribute(conv_box, x), method.attribute(conv_box, x, top1))


def _uint8_photo(seed: int = 1) -> np.ndarray:
    return (quadrant_image(seed=seed)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


@pytest.mark.parametrize("name, params", [("rise", {"n_masks": 16}), ("gradcam", {}), ("sm", {}), ("ig", {"n_steps": 4}),
                                          ("smdl", {"division": "grid", "grid_size": 2})])
def test_compute_attribution_map_is_each_familys_own_call(name, params):
    """One function for every family equals the family's own call (same seed, same target); ``ig`` resolves to
    the local (3, S, S) method, as the report lists it."""
    import local_attribution
    from common.attribution_maps import compute_attribution_map
    from submodular_attribution.explainer import SubmodularExplainer

    photo = _uint8_photo()
    box = BlackBox(conv_classifier(), batch_size=8)
    got = compute_attribution_map(name, box, photo, 2, params, seed=3)
    x = box.to_tensor(photo)
    if name == "smdl":
        expected = SubmodularExplainer(box, "grid", {"grid_size": 2}).explain(photo, 2).saliency_map()
    elif name in local_attribution.METHODS:
        expected = local_attribution.get_method(name, **params).attribute(
            box.classifier, x, torch.tensor([2]), internal_batch_size=8, generator=torch.Generator().manual_seed(3))[0]
    else:
        expected = get_method(name, **params).attribute(box, x, 2, generator=torch.Generator().manual_seed(3))[0]
    assert got.dtype == np.float32 and got.shape == ((3, SIZE, SIZE) if name in ("sm", "ig") else (SIZE, SIZE))
    np.testing.assert_array_equal(got, np.asarray(expected))


def test_compute_attribution_map_refuses_bad_names_params_and_nan_maps(monkeypatch):
    from baseline_attribution.occlusion import Occlusion
    from common.attribution_maps import available_methods, compute_attribution_map, validate_params
    from common.method_contract import MethodError

    box = BlackBox(conv_classifier(), batch_size=8)
    with pytest.raises(MethodError, match="unknown; choose one of smdl, la"):
        compute_attribution_map("nope", box, _uint8_photo())
    with pytest.raises(MethodError, match="--n-masks 0: rise needs an integer >= 1"):
        validate_params("rise", {"n_masks": 0})
    assert available_methods()[:2] == ["smdl", "la"] and available_methods().count("ig") == 1
    monkeypatch.setattr(Occlusion, "_attribute", lambda self, *a: torch.full((1, SIZE, SIZE), float("inf")))
    with pytest.raises(MethodError, match="NaN/inf"):
        compute_attribution_map("occlusion", box, _uint8_photo())


# ---------------------------------------------------------------- fills, RISE edges, Score-CAM upsampling


class _Recorder(nn.Module):
    """Wraps a body and keeps every input batch it sees (after the black box, before normalisation)."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body, self.seen = body, []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x.detach().clone())
        return self.body(x)


def recording_box() -> tuple[BlackBox, list[torch.Tensor]]:
    net = conv_classifier()
    recorder = _Recorder(net.body)
    net.body = recorder
    return BlackBox(net, batch_size=64), recorder.seen


@pytest.mark.parametrize("fill, colour", [("black", (0.0, 0.0, 0.0)), ("grey", (0.5, 0.5, 0.5)), ("mean", None)])
def test_rise_fill_sets_fully_masked_images_to_the_fill_colour(fill, colour):
    """With p_keep ~ 0 every mask is 0: each perturbed image is the fill colour everywhere; ``mean`` is the model's
    normalisation mean (0.5 for this toy model: 0 after normalisation, the RISE paper's fill)."""
    box, seen = recording_box()
    x = quadrant_image()
    get_method("rise", n_masks=4, p_keep=1e-12, fill=fill).attribute(box, x, 1)
    masked = torch.cat(seen)  # the body sees normalised images: (x - mean) / std
    expected = torch.zeros(3) if fill == "mean" else (torch.tensor(colour) - 0.5) / 0.25
    assert masked.shape[0] == 4
    torch.testing.assert_close(masked, expected.view(1, 3, 1, 1).expand_as(masked), atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", ["hsic", "occlusion", "lime", "kernelshap"])
def test_binary_masking_methods_fill_removed_pixels_with_the_mean_colour(name):
    """``--fill mean``: every pixel of every perturbed image is either the photo's own or the mean colour (0 after
    normalisation), and some are the mean colour."""
    box, seen = recording_box()
    x = quadrant_image()
    get_method(name, **CHEAP[name], fill="mean").attribute(box, x, 1)
    original = (x.to(box.device) - 0.5) / 0.25
    masked = torch.cat(seen)
    kept = torch.isclose(masked, original, atol=1e-6).all(dim=1)
    filled = torch.isclose(masked, torch.zeros(()), atol=1e-6).all(dim=1)
    assert bool((kept | filled).all()) and bool(filled.any())


def test_rise_edges_clamp_is_torch_bilinear_and_reflect_is_the_papers_skimage_resize():
    import torch.nn.functional as F
    from skimage.transform import resize

    from baseline_attribution.rise import bilinear_matrix

    grid = torch.rand(5, 5, generator=torch.Generator().manual_seed(0))
    for n_out in (24, 37):
        clamp = bilinear_matrix(5, n_out, "clamp") @ grid @ bilinear_matrix(5, n_out, "clamp").T
        torch.testing.assert_close(clamp, F.interpolate(grid[None, None], size=(n_out, n_out), mode="bilinear",
                                                        align_corners=False)[0, 0], atol=1e-6, rtol=0)
        reflect = bilinear_matrix(5, n_out, "reflect") @ grid @ bilinear_matrix(5, n_out, "reflect").T
        paper = resize(grid.double().numpy(), (n_out, n_out), order=1, mode="reflect", anti_aliasing=False)
        np.testing.assert_allclose(reflect.numpy(), paper, atol=1e-6)
        assert not torch.allclose(clamp, reflect, atol=1e-3)  # the border differs


def test_scorecam_align_corners_switches_the_activation_upsampling():
    """On a CAM layer at half resolution: ``align_corners=True`` masks are corner-aligned bilinear upsamplings of the
    activations (pytorch-grad-cam), the default uses half-pixel centres (the authors' F.interpolate)."""
    import torch.nn.functional as F

    conv_w = torch.tensor([[1.0, -1.0, 0.5], [-0.5, 1.0, 1.0]])
    body = nn.Sequential(nn.Conv2d(3, 2, 1), nn.ReLU(), nn.AvgPool2d(2), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    head = nn.Linear(2, 3)
    with torch.no_grad():
        body[0].weight.copy_(conv_w[:, :, None, None])
        body[0].bias.zero_()
        head.weight.copy_(torch.tensor([[2.0, -1.0], [-1.0, 3.0], [0.5, 0.5]]))
        head.bias.zero_()
    net = ImageClassifier(body, head, (0.0,) * 3, (1.0,) * 3, 8, "half", ["a", "b", "c"]).eval()
    x = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(4))
    acts = F.avg_pool2d(torch.relu(torch.einsum("kc,chw->khw", conv_w, x[0]))[None], 2)[0]  # (2, 4, 4)
    maps = {}
    for align in (True, False):
        up = F.interpolate(acts[None], size=(8, 8), mode="bilinear", align_corners=align)[0]
        scores = torch.stack([net(x * scaled(up[k], 1e-8))[0].softmax(0)[1] for k in range(2)]).detach()
        cam = scaled(torch.relu(torch.einsum("k,khw->hw", scores, acts)), 1e-7)
        expected = F.interpolate(cam[None, None], size=(8, 8), mode="bilinear", align_corners=False)[0, 0]
        maps[align] = get_method("scorecam", layer="body.2", align_corners=align).attribute(BlackBox(net), x, 1)[0]
        torch.testing.assert_close(maps[align], expected, atol=1e-6, rtol=1e-5)
    assert not torch.allclose(maps[True], maps[False], atol=1e-6)
