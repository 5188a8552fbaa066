"""The black boxes shared by every package: ``load_model(name) -> BlackBox``."""

from models.base import BlackBox, ImageClassifier, resolve_device
from models.imagenet import imagenet_class_names
from models.registry import DEFAULT_MODEL, MODELS, list_models, load_classifier, load_model

__all__ = [
    "BlackBox",
    "ImageClassifier",
    "resolve_device",
    "imagenet_class_names",
    "DEFAULT_MODEL",
    "MODELS",
    "list_models",
    "load_classifier",
    "load_model",
]
