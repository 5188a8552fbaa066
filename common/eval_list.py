"""Evaluation lists: ``relative/path label`` per line, the ``--begin/--end`` range and multi-GPU shards.

Format: one sample per line, the image path relative to ``--Datasets`` followed by an integer class id.
Paths may contain spaces (the label is the last whitespace-separated token). A line whose last token is not
a number is a path without a label (the model's top-1 class is explained). Blank lines and lines starting
with ``#`` are ignored.

Labels written as floats: ``335.0`` (an integer column that went through a float, as pandas writes it when the
column had a missing value) is read as class 335: the value is exact and means one class only. Any other
number (``335.5``, ``1e3``, ``nan``) is refused with the file and line: truncating it would explain a class
nobody asked for. Before, ``img.png 335.0`` was read as the file name ``"img.png 335.0"`` and failed as
"image file not found" after the model had loaded. ``--eval-list demo`` is the built-in set of real photos (:mod:`common.demo_images`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from common.demo_images import DEMO_PHOTOS, load_demo_photo
from common.errors import ToolkitError
from common.images import load_image

DEMO_LIST = "demo"
DEMO_PREFIX = "demo:"
_INTEGER = re.compile(r"[+-]?\d+")
_INTEGRAL_FLOAT = re.compile(r"[+-]?\d+\.0+")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_label(token: str) -> int | None:
    """The class id of a label token: ``"335"`` and ``"335.0"`` -> 335; None when it is no number at all.

    Raises:
        ValueError: a number that is not an integer class id (``"335.5"``, ``"1e3"``, ``"nan"``).
    """
    if _INTEGER.fullmatch(token) or _INTEGRAL_FLOAT.fullmatch(token):
        return int(float(token)) if "." in token else int(token)
    if _is_number(token):
        raise ValueError(token)
    return None


@dataclass(frozen=True)
class Sample:
    """One image to explain.

    Attributes:
        name: relative path inside the dataset (``coffee.png`` for demo photos); result files are named
            after it with the extension replaced.
        label: class id to explain, or None for the model's top-1.
        ref: where the pixels come from: an absolute file path, or ``demo:<photo>``.
    """

    name: str
    label: int | None
    ref: str

    @property
    def stem(self) -> str:
        """The name without its extension, used for result files (keeps sub-folders)."""
        return str(PurePosixPath(self.name).with_suffix(""))

    def load(self) -> np.ndarray:
        """RGB uint8 ``H x W x 3``."""
        return load_image_ref(self.ref)


def load_image_ref(ref: str) -> np.ndarray:
    """Load ``demo:<photo>`` or a file path as RGB uint8."""
    if ref.startswith(DEMO_PREFIX):
        return load_demo_photo(ref[len(DEMO_PREFIX):])
    return load_image(ref)


def demo_samples() -> list[Sample]:
    """The built-in demo list, labelled with ImageNet classes."""
    return [Sample(f"{p.name}.png", p.label, DEMO_PREFIX + p.name) for p in DEMO_PHOTOS.values()]


def parse_eval_list(list_path: str | Path, dataset_root: str | Path = ".") -> list[Sample]:
    """Parse an eval list file (or ``"demo"``) into samples.

    Raises:
        ToolkitError: the file is missing, or a line is malformed (message names the file and line number).
    """
    if str(list_path) == DEMO_LIST:
        return demo_samples()
    list_path = Path(list_path)
    if not list_path.is_file():
        raise ToolkitError(f"--eval-list {list_path}: file not found (use a text file of 'path label' lines, or 'demo')")
    root = Path(dataset_root).absolute()
    samples = []
    first_line: dict[tuple[int | None, str], int] = {}
    text = list_path.read_text(encoding="utf-8-sig")
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.rsplit(maxsplit=1)
        label: int | None = None
        path = line
        if len(parts) == 2 and not (not PurePosixPath(parts[0]).suffix and (root / line).exists()):
            try:
                label = parse_label(parts[1])
            except ValueError:
                raise ToolkitError(f"{list_path}:{number}: label {parts[1]!r} is not an integer class id in {raw!r}; "
                                   "expected 'relative/path.ext class_id' (e.g. 335, or 335.0)") from None
            if label is not None:
                path = parts[0].strip()
            # "img.png abc": a bad label, unless the whole line is a file name with a space in it
            elif PurePosixPath(parts[0]).suffix and not PurePosixPath(parts[1]).suffix and not (root / line).exists():
                raise ToolkitError(f"{list_path}:{number}: label {parts[1]!r} is not an integer class id "
                                   f"in {raw!r}; expected 'relative/path.ext class_id'")
        if label is not None and label < 0:
            raise ToolkitError(f"{list_path}:{number}: negative class id {label} in {raw!r}; labels are class indices >= 0")
        pure = PurePosixPath(path)
        if pure.suffix == "":
            raise ToolkitError(f"{list_path}:{number}: {path!r} has no file extension; expected 'relative/path.ext label'")
        if ".." in pure.parts:
            raise ToolkitError(f"{list_path}:{number}: {path!r} contains '..'; give paths inside --Datasets")
        # absolute paths are allowed; their results are named after the path without its root
        name = str(pure.relative_to(pure.anchor)) if pure.is_absolute() else path
        key = (label, str(PurePosixPath(name).with_suffix("")))
        if key in first_line:
            raise ToolkitError(f"{list_path}:{number}: {path!r} has the same result name as line {first_line[key]} "
                               "(same folder, label and name without extension); rename one of them")
        first_line[key] = number
        samples.append(Sample(name, label, str(root / path)))
    return samples


def select_range(samples: list[Sample], begin: int = 0, end: int | None = None) -> list[Sample]:
    """Samples ``begin .. end-1``; ``end`` None or -1 means through the last line (the original dropped it)."""
    if begin < 0:
        raise ToolkitError(f"--begin {begin}: must be >= 0")
    if end is None or end == -1:
        return samples[begin:]
    if end < begin:
        raise ToolkitError(f"--end {end} is before --begin {begin}; use -1 for 'through the last line'")
    return samples[begin:end]


def shard_ranges(num_samples: int, num_shards: int) -> list[tuple[int, int]]:
    """Split ``num_samples`` into ``num_shards`` contiguous ``(begin, end)`` ranges of ceil(n/G) lines each;
    the last shard's end is -1 (through the last line). Empty shards are dropped."""
    if num_shards < 1:
        raise ToolkitError(f"number of shards must be >= 1, got {num_shards}")
    size = max(1, math.ceil(num_samples / num_shards))
    ranges = []
    for shard in range(num_shards):
        begin = shard * size
        if begin >= num_samples:
            break
        end = -1 if begin + size >= num_samples or shard == num_shards - 1 else begin + size
        ranges.append((begin, end))
    return ranges
