"""Issue 14 speed work: the lean inference copy, channels-last composition, the CPU benchmark driver."""

from __future__ import annotations

import json

import numpy as np
import torch
from torch import nn

from models.inference import has_foldable_layers, lean_copy
from submodular_attribution.masking import compose_masked


def test_lean_copy_computes_the_same_probabilities_and_leaves_the_original(lite0_blackbox, coffee):
    net = lite0_blackbox.classifier
    lean = lite0_blackbox.inference_network()
    assert lean is not net and not any(isinstance(m, nn.BatchNorm2d) for m in lean.modules())
    assert sum(isinstance(m, nn.BatchNorm2d) for m in net.modules()) > 40  # the original keeps its BatchNorms
    assert sum(isinstance(m, nn.ZeroPad2d) for m in net.modules()) > 10
    assert not any(isinstance(m, nn.ZeroPad2d) for m in lean.modules())  # no padded copies left
    x = lite0_blackbox.to_tensor(lite0_blackbox.resize(coffee))
    x = torch.cat([x, x * (torch.rand_like(x) < 0.5)])  # the photo and a masked copy
    with torch.inference_mode():
        reference = net(x).softmax(-1)
        got, feats = lean.forward_with_features(x)
    assert (got.softmax(-1) - reference).abs().max() < 2e-5
    assert feats.shape == (2, 1280)
    assert lite0_blackbox.inference_network() is lean  # built once per classifier


def test_grown_kernel_equals_asymmetric_padding_then_conv():
    """TF "same" padding (a, a + 1) + a k x k stride-2 conv == a (k + 1) x (k + 1) conv with padding a + 1."""
    from models.inference import _grown_kernel

    for k, a, groups in ((3, 0, 4), (5, 1, 1)):
        conv = nn.Conv2d(4, 4, k, 2, 0, groups=groups, bias=True)
        x = torch.randn(2, 4, 14, 14)
        expected = conv(nn.functional.pad(x, (a, a + 1, a, a + 1)))
        got = _grown_kernel(conv, a + 1, a + 1)(x)
        assert got.shape == expected.shape
        torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-6)


def test_nets_without_foldable_layers_are_not_copied(toy_blackbox):
    assert not has_foldable_layers(toy_blackbox.classifier)
    assert lean_copy(toy_blackbox.classifier) is toy_blackbox.classifier


def test_composed_batch_is_channels_last():
    x = torch.rand(3, 12, 10)
    labels = torch.arange(4).repeat_interleave(30).view(12, 10)
    batch = compose_masked(x, torch.zeros_like(x), labels, torch.tensor([[True, False, True, False]]))
    assert batch.shape == (1, 3, 12, 10) and batch.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(batch[0, :, :3], x[:, :3])
    assert float(batch[0, :, 3:6].abs().sum()) == 0.0


def test_benchmark_cells_interleave_photos_and_cross_the_settings(tmp_path):
    from scripts.benchmark_cpu import build_parser, cell_path, cell_specs

    args = build_parser().parse_args(["--photos", "coffee,camera", "--rows", "greedy,rise,greedy-before"])
    specs = cell_specs(args)
    keys = [(s["photo"], s["row"], s["allocator"], s["search_dtype"]) for s in specs]
    per_photo = [k[1:] for k in keys if k[0] == "coffee"]
    assert per_photo == [("greedy", "on", "fp32"), ("greedy", "on", "bf16"), ("greedy", "off", "fp32"),
                         ("greedy", "off", "bf16"), ("rise", "on", "fp32"), ("rise", "off", "fp32"),
                         ("greedy-before", "n/a", "fp32")]
    assert [k[0] for k in keys] == ["coffee"] * 7 + ["camera"] * 7  # every row of a photo before the next photo
    paths = {cell_path(tmp_path, s, args) for s in specs}
    assert len(paths) == len(specs) and {p.parent for p in paths} == {next(iter(paths)).parent}  # one flat folder


def test_benchmark_runs_cells_in_subprocesses_with_the_allocator_per_row_and_resumes(tmp_path, capsys):
    from scripts.benchmark_cpu import main

    argv = ["--photos", "coffee", "--rows", "greedy", "--region-size", "112", "--allocator", "on,off",
            "--search-dtype", "fp32", "--out-dir", str(tmp_path)]
    rows = main(argv)
    cells = sorted((tmp_path / "cells").rglob("*.json"))
    assert len(cells) == 2 and len(rows) == 2
    data = {c.name: json.loads(c.read_text()) for c in cells}
    states = {d["allocator"]: d["allocator_state"] for d in data.values()}
    assert states["off"] == "disabled" and states["on"] in ("configured", "unsupported")
    first, second = data.values()
    assert first["ranking"] == second["ranking"] and first["forwards"] == second["forwards"] > 0
    assert 0.0 <= first["insertion"] <= 1.0 and first["user_s"] > 0
    table = (tmp_path / "cpu_benchmark.md").read_text()
    assert table.count("| SMDL greedy |") == 2 and "command: `python -m scripts.benchmark_cpu --photos coffee" in table
    stamps = [c.stat().st_mtime_ns for c in cells]
    main(argv)  # everything cached: no cell recomputed
    assert [c.stat().st_mtime_ns for c in cells] == stamps
    assert "2 cells, 2 cached" in capsys.readouterr().out
