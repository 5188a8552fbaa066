"""The built-in demo set: real photos that ship inside installed packages, with ImageNet labels.

``--eval-list demo`` resolves to these. Labels are the ImageNet-1k class an expert would pick; they are
also EfficientNet-Lite0's top-1 class for each photo (checked by the integration tests).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from common.errors import ToolkitError
from common.images import to_rgb_uint8


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        return to_rgb_uint8(getattr(skimage.data, name)())

    return load


def _grace_hopper() -> np.ndarray:
    import matplotlib.cbook
    from PIL import Image

    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as handle:
        return np.asarray(Image.open(handle).convert("RGB"))


def _sklearn(index: int) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_images

        return to_rgb_uint8(load_sample_images().images[index])

    return load


@dataclass(frozen=True)
class DemoPhoto:
    name: str
    label: int  # ImageNet-1k class index
    source: str  # where the photo ships
    loader: Callable[[], np.ndarray]


DEMO_PHOTOS: dict[str, DemoPhoto] = {
    photo.name: photo
    for photo in (
        DemoPhoto("coffee", 967, "skimage.data.coffee", _skimage("coffee")),  # espresso
        DemoPhoto("chelsea", 285, "skimage.data.chelsea", _skimage("chelsea")),  # Egyptian cat
        DemoPhoto("camera", 872, "skimage.data.camera", _skimage("camera")),  # tripod
        DemoPhoto("grace_hopper", 652, "matplotlib sample_data", _grace_hopper),  # military uniform
        DemoPhoto("rocket", 540, "skimage.data.rocket", _skimage("rocket")),  # drilling platform (top-1)
        DemoPhoto("china", 442, "sklearn load_sample_images", _sklearn(0)),  # bell cote
        DemoPhoto("flower", 985, "sklearn load_sample_images", _sklearn(1)),  # daisy
    )
}


def load_demo_photo(name: str) -> np.ndarray:
    """RGB uint8 ``H x W x 3`` photo of the demo set by name (see :data:`DEMO_PHOTOS`)."""
    try:
        photo = DEMO_PHOTOS[name]
    except KeyError:
        raise ToolkitError(f"unknown demo photo {name!r}; choose one of {', '.join(DEMO_PHOTOS)}") from None
    return photo.loader()
