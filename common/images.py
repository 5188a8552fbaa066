"""Image loading: any file format and mode -> RGB uint8 ``H x W x 3``."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from common.errors import ToolkitError


def to_rgb_uint8(array: np.ndarray) -> np.ndarray:
    """Convert an ``H x W``, ``H x W x 1/3/4`` array of any integer or float dtype to RGB uint8.

    16-bit and other wide integer images are scaled by their dtype range; float images are read as
    [0, 1] when their maximum is <= 1, otherwise as [0, 255]. An alpha channel is dropped.
    """
    arr = np.asarray(array)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ValueError(f"expected an H x W or H x W x 3/4 image, got shape {arr.shape}")
    arr = arr[..., :3]
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if np.issubdtype(arr.dtype, np.integer):
        peak = int(arr.max(initial=0))
        # 8-bit data in a wide type stays as is; 16-bit data (also inside 32-bit "I" images) scales by 65535.
        top = 255 if peak <= 255 else 65535 if peak <= 65535 else np.iinfo(arr.dtype).max
        return np.clip(arr.astype(np.float64) * (255.0 / top), 0, 255).round().astype(np.uint8)
    if arr.dtype == bool:
        return arr.astype(np.uint8) * 255
    scale = 255.0 if arr.max(initial=0) <= 1.0 else 1.0
    return np.clip(arr.astype(np.float64) * scale, 0, 255).round().astype(np.uint8)


def load_image(path: str | Path) -> np.ndarray:
    """Read an image file as RGB uint8 ``H x W x 3`` (grayscale, palette, RGBA, CMYK and 16-bit included).

    Raises:
        ToolkitError: one line naming the file when it is missing or not a readable image.
    """
    path = Path(path)
    if not path.is_file():
        raise ToolkitError(f"{path}: image file not found; check --Datasets and the eval-list path")
    try:
        with Image.open(path) as img:
            img.load()
            img = ImageOps.exif_transpose(img)  # as cv2.imread: camera rotation applied
            if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
                return to_rgb_uint8(np.asarray(img))
            if img.mode == "P" and "transparency" in img.info:
                img = img.convert("RGBA")
            return np.ascontiguousarray(np.asarray(img.convert("RGB")))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ToolkitError(f"{path}: not a readable image ({exc.__class__.__name__}); re-save it as PNG/JPEG") from exc


def resize_image(image: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Resize an RGB uint8 image to ``size`` (int = square, or (height, width)) with bilinear interpolation,
    as the originals do with ``cv2.resize``. Returns the input unchanged when it already has that size."""
    height, width = (size, size) if isinstance(size, int) else size
    if image.shape[:2] == (height, width):
        return image
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
