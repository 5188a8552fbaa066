"""Every preset of the originals' families: --help runs, and a run on one demo photo with small models
(a tiny random-initialised open_clip architecture, a random vit_b SAM, a random ResNet-18 EDL network)."""

import json

import numpy as np
import pytest
import torch

from tests.sam_helpers import small_sam  # noqa: F401  (fixture)
from tests.test_zero_shot import tiny_clip  # noqa: F401  (fixture)

PRESETS = [
    "smdl_explanation_imagenet_clip_superpixel",
    "smdl_explanation_imagenet_clip_sam",
    "smdl_explanation_cub_prior",
    "smdl_explanation_cub_superpixel",
    "smdl_explanation_face_superpixel",
    "smdl_explanation_lung_quilt_superpixel",
]


def preset_of(name):
    from submodular_attribution.presets import get_preset

    return get_preset(name)


@pytest.mark.parametrize("name", PRESETS)
def test_preset_help_runs(name, capsys):
    from submodular_attribution.driver import main

    with pytest.raises(SystemExit) as exit_info:
        main(preset_of(name), ["--help"])
    assert exit_info.value.code == 0 and "--record-counterfactual" in capsys.readouterr().out


@pytest.fixture(scope="module")
def photo_list(tmp_path_factory):
    from PIL import Image

    from common.demo_images import load_demo_photo

    root = tmp_path_factory.mktemp("photo")
    (root / "img").mkdir()
    Image.fromarray(load_demo_photo("coffee")).save(root / "img" / "coffee.png")
    (root / "list.txt").write_text("coffee.png 1\n")
    prior = np.zeros((40, 40), dtype=np.float32)
    prior[10:30, 10:30] = 1.0
    (root / "prior" / "1").mkdir(parents=True)
    np.save(root / "prior" / "1" / "coffee.npy", prior)
    torch.manual_seed(0)
    import torchvision

    torch.save(torchvision.models.resnet18(num_classes=5).state_dict(), root / "edl_resnet18.pth")
    return root


def family_argv(name, clip_root, photos, tmp_path):
    clip = ["--weights", str(clip_root / "tiny_clip.pt"), "--prototype-cache", str(tmp_path / "cache")]
    model = f"clip:local-dir:{clip_root / 'arch'}"
    names = ["--class-names", str(clip_root / "classes.txt"), "--templates", str(clip_root / "templates.txt")]
    small_slico = ["--region-size", "10"]
    return {
        "smdl_explanation_imagenet_clip_superpixel": ["--model", model, *clip, *names, *small_slico],
        "smdl_explanation_imagenet_clip_sam": ["--model", model, *clip, *names, "--sam-checkpoint", str(photos / "list.txt"),
                                               "--sam-model-type", "vit_b", "--sam-points-per-side", "2",
                                               "--sam-stability-score-thresh", "0", "--sam-pred-iou-thresh", "0"],
        "smdl_explanation_cub_prior": ["--model", model, *clip, *names, "--prior-dir", str(photos / "prior"),
                                       "--prior-grid-size", "4", "--prior-cells-per-region", "2"],
        "smdl_explanation_cub_superpixel": ["--model", model, *clip, *names, *small_slico],
        "smdl_explanation_face_superpixel": ["--model", f"embed:{model}", *clip, *names, "--region-size", "12",
                                             "--uncertainty-model", "resnet18", "--uncertainty-weights",
                                             str(photos / "edl_resnet18.pth")],
        "smdl_explanation_lung_quilt_superpixel": ["--model", model, *clip, *small_slico],
    }[name]


@pytest.mark.parametrize("name", PRESETS)
def test_preset_runs_end_to_end(name, tiny_clip, photo_list, small_sam, tmp_path, monkeypatch):  # noqa: F811
    from submodular_attribution.driver import main

    if name.endswith("_sam"):  # the SAM checkpoint would be 375 MB: the same generator path on the small random vit_b
        monkeypatch.setattr("models.sam.load_sam", lambda *args, **kwargs: small_sam)
    argv = ["--Datasets", str(photo_list / "img"), "--eval-list", str(photo_list / "list.txt"),
            "--save-dir", str(tmp_path / "out"), "--no-progress", "--record-counterfactual",
            *family_argv(name, tiny_clip, photo_list, tmp_path)]
    run_dir, report = main(preset_of(name), argv)
    errors = (run_dir / "errors.jsonl").read_text() if (run_dir / "errors.jsonl").exists() else ""
    assert report.done == 1, errors
    data = json.loads((run_dir / "json/1/coffee.json").read_text())
    m = data["sub-k"]
    assert m >= 2 and sorted(data["ranking"]) == list(range(m)) and len(data["failure_score"]) == m
    assert [data["lambda1"], data["lambda2"], data["lambda3"], data["lambda4"]] == list(preset_of(name).lambdas)
    rank_map = np.load(run_dir / "npy/1/coffee.npy")
    assert rank_map.shape == (32, 32) and set(np.unique(rank_map)) == set(range(m))
    if name == "smdl_explanation_face_superpixel":
        assert data["target"] == 0 and data["org_score"] == pytest.approx(1.0, abs=1e-5)
        assert data["uncertainty_forward_passes"] == m * (m + 1) // 2
        assert all(0 < c < 1 for c in data["confidence_score"])
    if name == "smdl_explanation_cub_prior":
        assert run_dir.name.startswith("prior4x4-2-") and m == 8
    if name == "smdl_explanation_lung_quilt_superpixel":
        assert data["target_name"] == "benign lung tissue"


@pytest.mark.parametrize("name", PRESETS)
def test_preset_yaml_matches_the_preset(name):
    """configs/<family>.yaml holds valid flags and the same defaults as the preset module."""
    from pathlib import Path

    from submodular_attribution.driver import apply_config, build_parser

    preset = preset_of(name)
    config = Path(__file__).resolve().parents[1] / "configs" / f"{name.removeprefix('smdl_explanation_')}.yaml"
    parser = build_parser(preset)
    apply_config(parser, ["--config", str(config)])
    args = parser.parse_args([])
    assert args.model == preset.model and args.superpixel_algorithm == preset.division
    assert (args.lambda1, args.lambda2, args.lambda3, args.lambda4) == preset.lambdas
    for dest, value in preset.extra_defaults.items():
        if not str(value).startswith("/"):  # shipped files appear as configs/... paths in the YAML
            assert getattr(args, dest) == value, dest
