"""LA's packed image tensors (``img_batch.pt``, ``label_batch.pt``, ``names.json``): the data format that
``python -m local_attribution.generate_pt`` writes and ``generate_attributions``, ``evals.eval_la``,
``visualization.la_figures`` and ``scripts.benchmark_la`` read (a library module, no command line)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from common.errors import ToolkitError
from common.eval_list import Sample
from common.images import load_image, resize_image
from common.results import atomic_write, write_json_atomic

if TYPE_CHECKING:
    import torch

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".gif")

IMG_FILE = "img_batch.pt"
LABEL_FILE = "label_batch.pt"
NAMES_FILE = "names.json"
UNLABELLED = -1
"""Label value of an image without a class: the model's prediction is explained."""


@dataclass
class PackedBatch:
    """What ``generate_pt`` writes.

    Attributes:
        images: float32 ``(N, 3, S, S)`` RGB in [0, 1].
        labels: int64 ``(N,)``; -1 = no label.
        names: N names (file names relative to the folder or eval-list paths).
        source: the folder or eval list the images came from.
    """

    images: torch.Tensor
    labels: torch.Tensor
    names: list[str]
    source: str


def natural_key(name: str) -> list[object]:
    """Sort key that orders ``2.png`` before ``10.png`` (the original read ``0.png .. 999.png`` by number)."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def list_image_files(folder: str | Path) -> list[Path]:
    """Image files directly inside ``folder``, in natural order.

    Raises:
        ToolkitError: the folder does not exist or holds no image file.
    """
    root = Path(folder)
    if not root.is_dir():
        raise ToolkitError(f"--img_path {root}: folder not found; pass a folder of images (e.g. visualized_imgs)")
    files = sorted((p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
                   key=lambda p: natural_key(p.name))
    if not files:
        raise ToolkitError(f"--img_path {root}: no image files ({', '.join(IMAGE_SUFFIXES)}) in this folder")
    return files


def to_chw_float(image: np.ndarray, size: int) -> torch.Tensor:
    """RGB uint8 ``(H, W, 3)`` -> float32 ``(3, size, size)`` in [0, 1] (bilinear resize when needed)."""
    import torch

    resized = resize_image(image, size)
    return torch.from_numpy(np.ascontiguousarray(resized)).permute(2, 0, 1).float().div_(255.0)


def stack_images(images: Sequence[np.ndarray], size: int) -> torch.Tensor:
    """RGB uint8 images of any sizes -> float32 ``(N, 3, size, size)`` in [0, 1]."""
    import torch

    return torch.stack([to_chw_float(img, size) for img in images]) if images else torch.empty(0, 3, size, size)


def read_labels_file(path: str | Path, count: int) -> torch.Tensor:
    """Labels for ``--labels``: a ``.pt`` int tensor (like the original ``data/label_batch.pt``) or a text
    file with one integer per line. Returns int64 ``(count,)``.

    Raises:
        ToolkitError: missing/unreadable file or a count that differs from the number of images.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise ToolkitError(f"--labels {path}: file not found")
    try:
        if path.suffix == ".pt":
            labels = torch.as_tensor(torch.load(path, map_location="cpu", weights_only=True)).long().flatten()
        else:
            labels = torch.tensor([int(tok) for tok in path.read_text().split()], dtype=torch.long)
    except (ValueError, RuntimeError, OSError) as exc:
        raise ToolkitError(f"--labels {path}: cannot read integer labels ({exc.__class__.__name__}: {exc})") from exc
    if labels.numel() != count:
        raise ToolkitError(f"--labels {path}: has {labels.numel()} labels but there are {count} images")
    return labels


def pack_folder(folder: str | Path, size: int = 224, labels_file: str | Path | None = None) -> PackedBatch:
    """Every image of ``folder`` (natural order) -> :class:`PackedBatch`; labels -1 unless ``labels_file``."""
    import torch

    files = list_image_files(folder)
    images = stack_images([load_image(p) for p in files], size)
    labels = (read_labels_file(labels_file, len(files)) if labels_file is not None
              else torch.full((len(files),), UNLABELLED, dtype=torch.long))
    return PackedBatch(images, labels, [p.name for p in files], str(folder))


def pack_samples(samples: Sequence[Sample], size: int = 224, source: str = "") -> PackedBatch:
    """Eval-list samples -> :class:`PackedBatch` (a sample without a label gets -1).

    Raises:
        ToolkitError: no samples (empty list or range).
    """
    import torch

    if not samples:
        raise ToolkitError(f"{source or 'eval list'}: no images in the selected range; check --begin/--end")
    images = stack_images([s.load() for s in samples], size)
    labels = torch.tensor([UNLABELLED if s.label is None else int(s.label) for s in samples], dtype=torch.long)
    return PackedBatch(images, labels, [s.name for s in samples], source)


def write_torch_atomic(path: str | Path, obj: object) -> None:
    """``torch.save`` through a temp file + rename."""
    import torch

    atomic_write(Path(path), lambda handle: torch.save(obj, handle), "wb")


def save_packed(batch: PackedBatch, out_dir: str | Path) -> dict[str, Path]:
    """Write ``img_batch.pt``, ``label_batch.pt`` and ``names.json`` into ``out_dir``; returns their paths."""
    out = Path(out_dir)
    paths = {"images": out / IMG_FILE, "labels": out / LABEL_FILE, "names": out / NAMES_FILE}
    write_torch_atomic(paths["images"], batch.images.contiguous())
    write_torch_atomic(paths["labels"], batch.labels.contiguous())
    write_json_atomic(paths["names"], {
        "names": batch.names,
        "labels": batch.labels.tolist(),
        "source": batch.source,
        "size": int(batch.images.shape[-1]),
        "note": "label -1 = no label: generate_attributions explains the model's predicted class",
    })
    return paths


def load_packed(data_dir: str | Path) -> PackedBatch:
    """Read what :func:`save_packed` wrote (``names.json`` optional, as in the original ``data/`` folder).

    Raises:
        ToolkitError: a missing file or tensors of inconsistent shape (the message says how to make them).
    """
    import torch

    root = Path(data_dir)
    img_path, label_path = root / IMG_FILE, root / LABEL_FILE
    hint = "run python -m local_attribution.generate_pt --out " + str(root) + " first"
    if not img_path.is_file():
        raise ToolkitError(f"--data {root}: {img_path} not found; {hint}")
    if not label_path.is_file():
        raise ToolkitError(f"--data {root}: {label_path} not found; {hint}")
    images = torch.load(img_path, map_location="cpu", weights_only=True).float()
    labels = torch.as_tensor(torch.load(label_path, map_location="cpu", weights_only=True)).long().flatten()
    if images.ndim != 4 or images.shape[1] != 3:
        raise ToolkitError(f"{img_path}: expected a (N, 3, H, W) tensor, got {tuple(images.shape)}; {hint}")
    if labels.shape[0] != images.shape[0]:
        raise ToolkitError(f"{label_path}: {labels.shape[0]} labels for {images.shape[0]} images; {hint}")
    names_path = root / NAMES_FILE
    names = [str(i) for i in range(images.shape[0])]
    if names_path.is_file():
        stored = json.loads(names_path.read_text()).get("names", [])
        if len(stored) == images.shape[0]:
            names = [str(n) for n in stored]
    return PackedBatch(images, labels, names, str(root))
