"""CLIP weights errors say what is missing in the user's terms, in one line (issue 16, item 6)."""

from __future__ import annotations

import pytest
import torch

from common.errors import ToolkitError
from models.zero_shot import load_zero_shot
from tests.test_zero_shot import tiny_clip, tiny_options  # noqa: F401 - the fixture

GARBAGE = {"random_bytes": bytes(range(256)) * 8, "text": b"hello, these are not weights\n", "empty": b""}


@pytest.mark.parametrize("kind", list(GARBAGE))
def test_garbage_clip_weights_are_one_clean_line(kind, tiny_clip, tmp_path):  # noqa: F811
    bad = tmp_path / "w.pt"
    bad.write_bytes(GARBAGE[kind])
    with pytest.raises(ToolkitError) as info:
        load_zero_shot(f"local-dir:{tiny_clip / 'arch'}", bad, **tiny_options(tiny_clip, tmp_path))
    message = str(info.value)
    assert "\n" not in message and "weights_only" not in message and "trust" not in message, message
    assert message.startswith(f"--weights {bad}: not a readable checkpoint file (") and "pass an open_clip" in message


def test_weights_of_another_architecture_name_the_mismatch(tiny_clip, tmp_path):  # noqa: F811
    other = tmp_path / "other.pt"
    torch.save({"visual.proj": torch.zeros(3, 3)}, other)
    with pytest.raises(ToolkitError) as info:
        load_zero_shot(f"local-dir:{tiny_clip / 'arch'}", other, **tiny_options(tiny_clip, tmp_path))
    message = str(info.value)
    assert "\n" not in message and "not an open_clip checkpoint of this architecture" in message, message


def test_the_clip_preset_without_flags_says_what_is_missing(tmp_path, capsys, monkeypatch):
    """Was ``--weights openai: file not found``: a tag the user never typed, called a file."""
    from submodular_attribution.driver import main
    PRESET = "smdl_explanation_imagenet_clip_superpixel"

    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.cache/clip here
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(SystemExit) as info:
        main(PRESET, ["--save-dir", str(tmp_path / "out"), "--no-progress", "--end", "1"])
    err = capsys.readouterr().err.strip()
    assert info.value.code == 2 and "\n" not in err, err
    assert "file not found" not in err
    assert err.startswith("error: clip:ViT-L-14-quickgelu has no weights on this machine: --weights openai")
    assert "when --weights is not given" in err and "pass --weights FILE" in err


def test_a_clip_weights_path_that_does_not_exist_is_refused_before_the_model_loads(tmp_path, capsys, monkeypatch):
    import models
    from submodular_attribution.driver import main
    PRESET = "smdl_explanation_imagenet_clip_superpixel"

    monkeypatch.setattr(models, "load_model", lambda *a, **k: pytest.fail("the model was loaded"))
    with pytest.raises(SystemExit) as info:
        main(PRESET, ["--save-dir", str(tmp_path / "out"), "--weights", str(tmp_path / "ViT-L-14.pt"), "--end", "1"])
    assert info.value.code == 2 and f"--weights {tmp_path / 'ViT-L-14.pt'}: file not found" in capsys.readouterr().err
