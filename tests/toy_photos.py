"""Small random photos and their eval list, shared by the tests of the batch entry modules (not a test file)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_toy_photos(root: Path, count: int = 6, seed: int = 0, classes: int = 3, size: int = 24) -> Path:
    """``count`` random ``size x size`` RGB photos ``root/images/img{i}.png`` (uint8 from
    ``numpy.random.default_rng(seed)``, one draw per photo in order) and the eval list ``root/list.txt`` of lines
    ``img{i}.png {i % classes}``. Returns the list's path."""
    from PIL import Image

    gen = np.random.default_rng(seed)
    folder = root / "images"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.fromarray(gen.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(folder / f"img{i}.png")
    listing = root / "list.txt"
    listing.write_text("".join(f"img{i}.png {i % classes}\n" for i in range(count)))
    return listing
