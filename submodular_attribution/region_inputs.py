"""Per-image inputs of a division (a prior saliency map, precomputed masks), found next to the image's results.

A division declares them in ``register_division(..., sample_inputs=("prior",))``; the driver calls
:func:`sample_region_inputs` for each sample and passes the arrays on to the division. Files are looked up as
``DIR/<class>/<stem>.npy`` then ``DIR/<stem>.npy`` (``<class>`` = the label, or ``top1`` when unlabelled), the
layout ``baseline_attribution.generate_explanation_maps`` writes, so its output folder is a valid ``--prior-dir``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from common.errors import ToolkitError
from submodular_attribution.regions import DIVISIONS

# sample input name -> (argparse dest of its folder flag, what the file holds)
REGION_INPUT_FOLDERS: dict[str, tuple[str, str]] = {
    "prior": ("prior_dir", "an H x W saliency map"),
    "masks": ("mask_dir", "a label map (H, W) or a mask stack (K, H, W)"),
}


def flag_name(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def find_region_file(folder: str | Path, class_folder: str, stem: str, flag: str) -> Path:
    """``folder/<class_folder>/<stem>.npy`` or else ``folder/<stem>.npy``; a one-line error naming both."""
    candidates = [Path(folder) / class_folder / f"{stem}.npy", Path(folder) / f"{stem}.npy"]
    for path in candidates:
        if path.is_file():
            return path
    raise ToolkitError(f"{flag} {folder}: no {candidates[0]} (nor {candidates[1]}) for this image")


def load_region_array(path: Path, name: str) -> np.ndarray:
    """Load one region input; a prior map is squeezed to ``(H, W)`` float32 (a trailing/leading channel axis of
    1 or 3 is averaged), masks are returned as stored."""
    try:
        array = np.load(path, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a user error about that file
        raise ToolkitError(f"{path}: cannot read a .npy array ({exc.__class__.__name__}: {exc})") from exc
    if name != "prior":
        return array
    array = np.squeeze(np.asarray(array, dtype=np.float32))
    if array.ndim == 3 and array.shape[-1] in (1, 3):
        array = array.mean(axis=-1)
    elif array.ndim == 3 and array.shape[0] in (1, 3):
        array = array.mean(axis=0)
    if array.ndim != 2 or not np.isfinite(array).all():
        raise ToolkitError(f"{path}: expected a finite H x W saliency map, got shape {array.shape}")
    return array


def sample_region_inputs(division: str, folders: dict[str, str | None], class_folder: str, stem: str) -> dict[str, np.ndarray]:
    """The per-image inputs ``division`` needs for the sample ``<class_folder>/<stem>``.

    Args:
        folders: argparse dest -> folder (``{"prior_dir": ..., "mask_dir": ...}``).
    """
    inputs = {}
    for name in DIVISIONS[division].sample_inputs if division in DIVISIONS else ():
        dest, _ = REGION_INPUT_FOLDERS[name]
        folder = folders.get(dest)
        if not folder:
            raise ToolkitError(f"--superpixel-algorithm {division} needs {flag_name(dest)} DIR")
        inputs[name] = load_region_array(find_region_file(folder, class_folder, stem, flag_name(dest)), name)
    return inputs


def check_region_folders(division: str, folders: dict[str, str | None]) -> None:
    """Before any model loads: the folders the division reads exist."""
    for name in DIVISIONS[division].sample_inputs if division in DIVISIONS else ():
        dest, holds = REGION_INPUT_FOLDERS[name]
        folder = folders.get(dest)
        if not folder:
            raise ToolkitError(f"--superpixel-algorithm {division} needs {flag_name(dest)} DIR of per-image .npy files ({holds})")
        if not Path(folder).is_dir():
            raise ToolkitError(f"{flag_name(dest)} {folder}: folder not found")
