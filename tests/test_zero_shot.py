"""Zero-shot open_clip black box: prototype math, the real loading path on a tiny random-initialised open_clip
architecture saved to a file, the prototype cache, BGR feed, one-line errors."""

import json

import numpy as np
import pytest
import torch

from models.zero_shot import build_prototypes, load_zero_shot

TINY_CONFIG = {
    "model_cfg": {"embed_dim": 16,
                  "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 16, "head_width": 16},
                  "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}},
    "preprocess_cfg": {"mean": [0.48145466, 0.4578275, 0.40821073], "std": [0.26862954, 0.26130258, 0.27577711]},
}
CLASSES = ["cat", "espresso", "rocket"]
TEMPLATES = ["a photo of a {}.", "a drawing of the {}."]


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    """A folder with an open_clip config (``clip:local-dir:DIR``), its random-initialised weights in another
    file, and class-name / template files."""
    import open_clip

    root = tmp_path_factory.mktemp("tiny_clip")
    (root / "arch").mkdir()
    (root / "arch" / "open_clip_config.json").write_text(json.dumps(TINY_CONFIG))
    torch.manual_seed(0)
    model = open_clip.create_model(f"local-dir:{root / 'arch'}", pretrained=None, load_weights=False)
    torch.save(model.state_dict(), root / "tiny_clip.pt")
    (root / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    (root / "templates.txt").write_text("\n".join(TEMPLATES) + "\n")
    return root


def tiny_options(root, cache):
    return dict(class_names=root / "classes.txt", templates=root / "templates.txt", prototype_cache=cache, progress=False)


def test_prototype_math_on_a_stub_text_encoder():
    vectors = {"x a": [3.0, 4.0, 0.0], "y a": [0.0, 0.0, 2.0], "x b": [1.0, 0.0, 0.0], "y b": [0.0, 5.0, 0.0]}
    encode = lambda texts: torch.tensor([vectors[t] for t in texts])  # noqa: E731
    prototypes = build_prototypes(encode, ["a", "b"], ["x {}", "y {}"], batch_size=3)
    # a: (0.6, 0.8, 0) and (0, 0, 1) averaged = (0.3, 0.4, 0.5), norm sqrt(0.5); b: (1, 0, 0), (0, 1, 0) -> (0.5, 0.5, 0)
    expected = torch.tensor([[0.3, 0.4, 0.5], [0.5, 0.5, 0.0]]) / np.sqrt(0.5) * 100
    torch.testing.assert_close(prototypes, expected)
    raw = build_prototypes(encode, ["a", "b"], ["x {}", "y {}"], logit_scale=10, recipe="raw")
    torch.testing.assert_close(raw, torch.tensor([[15.0, 20.0, 10.0], [5.0, 25.0, 0.0]]))


def test_prototypes_equal_open_clip_zero_shot_classifier(tiny_clip):
    """Oracle from the ecosystem: open_clip's own build_zero_shot_classifier (normalised, without the x100)."""
    import open_clip
    from open_clip.zero_shot_classifier import build_zero_shot_classifier

    name = f"local-dir:{tiny_clip / 'arch'}"
    model = open_clip.create_model(name, pretrained=str(tiny_clip / "tiny_clip.pt"), load_weights=False)
    open_clip.load_checkpoint(model, str(tiny_clip / "tiny_clip.pt"))
    tokenizer = open_clip.get_tokenizer(name)
    with torch.no_grad():
        oracle = build_zero_shot_classifier(model.eval(), tokenizer, CLASSES, TEMPLATES, device="cpu", use_tqdm=False)
        ours = build_prototypes(lambda texts: model.encode_text(tokenizer(texts)), CLASSES, TEMPLATES)
    torch.testing.assert_close(ours / 100, oracle.T, atol=1e-6, rtol=1e-5)


def test_prototypes_built_once_cached_reused_and_rebuilt(tiny_clip, tmp_path):
    weights = tiny_clip / "tiny_clip.pt"
    first = load_zero_shot(f"local-dir:{tiny_clip / 'arch'}", weights, **tiny_options(tiny_clip, tmp_path))
    assert first.prototype_status == "built" and first.prototype_path.is_file()
    assert first.head.weight.shape == (3, 16)
    torch.testing.assert_close(first.head.weight.norm(dim=1), torch.full((3,), 100.0))
    stamp = first.prototype_path.stat().st_mtime_ns
    second = load_zero_shot(f"local-dir:{tiny_clip / 'arch'}", weights, **tiny_options(tiny_clip, tmp_path))
    assert second.prototype_status == "cache" and second.prototype_path.stat().st_mtime_ns == stamp
    torch.testing.assert_close(second.head.weight, first.head.weight)
    second.prototype_path.unlink()
    third = load_zero_shot(f"local-dir:{tiny_clip / 'arch'}", weights, **tiny_options(tiny_clip, tmp_path))
    assert third.prototype_status == "built" and third.prototype_path.is_file()
    torch.testing.assert_close(third.head.weight, first.head.weight)
    # another class list is another cache entry
    other = load_zero_shot(f"local-dir:{tiny_clip / 'arch'}", weights, class_names=["cat", "dog"], templates=TEMPLATES,
                           prototype_cache=tmp_path, progress=False)
    assert other.prototype_status == "built" and other.prototype_path != first.prototype_path

    # features are the normalised image embeddings (the effectiveness term's input); --bgr swaps channels
    x = torch.rand(2, 3, 32, 32)
    logits, feats = first.forward_with_features(x)
    torch.testing.assert_close(feats.norm(dim=1), torch.ones(2))
    torch.testing.assert_close(logits, feats @ first.head.weight.T)
    first.bgr = True
    torch.testing.assert_close(first(x), second(x.flip(1)))


def test_zero_shot_grid_run_writes_valid_results(tiny_clip, tmp_path, coffee):
    from PIL import Image

    from submodular_attribution.driver import main
    PRESET = "smdl_explanation_imagenet_clip_superpixel"

    (tmp_path / "img").mkdir()
    Image.fromarray(coffee).save(tmp_path / "img" / "coffee.jpg")
    (tmp_path / "list.txt").write_text("coffee.jpg 1\n")
    argv = ["--Datasets", str(tmp_path / "img"), "--eval-list", str(tmp_path / "list.txt"),
            "--model", f"clip:local-dir:{tiny_clip / 'arch'}", "--weights", str(tiny_clip / "tiny_clip.pt"),
            "--class-names", str(tiny_clip / "classes.txt"), "--templates", str(tiny_clip / "templates.txt"),
            "--prototype-cache", str(tmp_path / "cache"), "--superpixel-algorithm", "grid", "--grid-size", "4",
            "--save-dir", str(tmp_path / "out"), "--no-progress", "--record-counterfactual"]
    run_dir, report = main(PRESET, argv)
    assert report.done == 1 and run_dir.name == "grid4x4-0.0-0.05-1.0-1.0"
    data = json.loads((run_dir / "json/1/coffee.json").read_text())
    assert data["sub-k"] == 16 and sorted(data["ranking"]) == list(range(16))
    assert data["target_name"] == "espresso" and data["model"].startswith("clip:local-dir:")
    assert data["forward_passes"] == 16 + 1 + 16 * 17
    assert all(0 <= v <= 1 for v in data["consistency_score"] + data["collaboration_score"])
    assert len(data["failure_score"]) == 16 and data["failure_label"] in range(3)
    assert data["failure_score"][-1] == pytest.approx(data["original_failure_score"], abs=1e-5)
    rank_map = np.load(run_dir / "npy/1/coffee.npy")
    assert rank_map.dtype == np.int16 and rank_map.shape == (32, 32) and set(np.unique(rank_map)) == set(range(16))
    from evals.eval_AUC_faithfulness import evaluate_explanation_dir

    assert evaluate_explanation_dir(run_dir)["num_images"] == 1


@pytest.mark.parametrize("extra,flag", [(["--weights", "/nonexistent/ViT-L-14.pt"], "--weights /nonexistent/ViT-L-14.pt"),
                                        ([], "--weights openai")])
def test_missing_weights_is_a_one_line_error(extra, flag, tmp_path, capsys, monkeypatch):
    from submodular_attribution.driver import main
    PRESET = "smdl_explanation_imagenet_clip_superpixel"

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))  # an empty cache: the 'openai' tag is not there
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(SystemExit) as exit_info:
        main(PRESET, ["--save-dir", str(tmp_path), "--no-progress", *extra])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.strip().count("\n") == 0 and flag in err
