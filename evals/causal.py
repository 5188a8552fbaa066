"""Insertion / Deletion of dense ``H x W`` saliency maps, with every published definition as a named preset
(specs/ecosystem.md §B, specs/smdl.md §5.2).

    >>> from evals.causal import insertion_deletion
    >>> result = insertion_deletion(blackbox, images, maps, preset="rise2018")
    >>> result.insertion_auc, result.insertion_curves.shape      # float, (N, n_steps + 1)

Common to the pixel presets: the H·W pixels are ranked by descending map value (ties by the lowest flat
index, a stable sort); point j of a curve changes the ``k_j`` top-ranked pixels (all channels together).
Insertion copies them from the image into the insertion start; deletion overwrites them with the deletion
end. The score is the softmax probability of the scored class; the AUC is the trapezoid rule on a uniform
x in [0, 1] (``(sum - first/2 - last/2) / n``), per image, then averaged (= the AUC of the mean curve).

=================  ====================  =====================  ================================  =========
preset             insertion start       deletion end           k_j (P = H·W)                     class
=================  ====================  =====================  ================================  =========
``rise2018``       blur(x) (RISE gkern   zero in *normalised*   ``min(224·j, P)``,                top-1
                   11, sigma 5)          space (the model's     j = 0..ceil(P/224)
                                         mean colour)
``smdl_baseline``  black (0)             black (0)              ``floor(P·j/50)``, j = 0..50      label
``xplique``        0.0                   0.0                    ``int(linspace(0, P, K+1))``, K=10 label
``la``             0 (LA's protocol)     0                      3·``min(224·j, P)`` *elements* of   top-1
                                                                the 3·H·W, j = 0..ceil(P/224)
=================  ====================  =====================  ================================  =========

RISE blurs the *normalised* tensor with zero padding; in [0, 1] space that is ``blur(x) + mean·(1 -
blur(1))`` (the border leans to the mean colour), which is what is computed here.

One engine plays every preset (:func:`play_games`): the maps ``(N, C', H, W)`` are ranked once per image
(``C' = 1``: pixels, ``C' = C``: elements, LA's protocol), the perturbed images of many (image, step) pairs
are built at once from the rank tensor (``rank < k_j``) and forwarded in chunks of ``batch_size`` pairs
(insertion and deletion images in one call for the pixel presets, one call per game for LA's element protocol,
so every preset gives the same bytes as the code it replaced), ``image_group`` images at a time. Every protocol returns one
:class:`CausalResult`; :mod:`evals.la_insertion_deletion` is LA's call signature over this engine.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from common.errors import ToolkitError
from evals.metrics import mean_over_images
from evals.presets import PRESETS, CausalPreset, get_preset  # noqa: F401  (the presets, without torch)

ArrayLike = Tensor | np.ndarray
def num_steps(height: int, width: int, step: int = 224) -> int:
    """n_steps = ceil(H·W / step) of a ``pixels_per_step`` schedule (224 for 224x224 with step 224)."""
    if step < 1:
        raise ToolkitError(f"step must be >= 1 pixel, got {step}")
    return math.ceil(height * width / step)


def pixel_thresholds(preset: CausalPreset, num_pixels: int) -> Tensor:
    """k_j, the number of changed pixels at each point of a curve: int64 ``(n_steps + 1,)``, from 0 to P."""
    if preset.schedule == "pixels_per_step":
        n = num_steps(1, num_pixels, preset.pixels_per_step)
        return torch.clamp(torch.arange(n + 1, dtype=torch.long) * preset.pixels_per_step, max=num_pixels)
    if preset.n_steps < 1:
        raise ToolkitError(f"preset {preset.name}: n_steps must be >= 1, got {preset.n_steps}")
    j = np.arange(preset.n_steps + 1)
    if preset.schedule == "fraction_floor":
        return torch.from_numpy((num_pixels * j) // preset.n_steps).long()
    if preset.schedule == "linspace":
        return torch.from_numpy(np.linspace(0, num_pixels, preset.n_steps + 1).astype(np.int64))
    raise ToolkitError(f"preset {preset.name}: unknown schedule {preset.schedule!r}")


def rise_gaussian_kernel(klen: int = 11, nsig: float = 5.0) -> Tensor:
    """RISE's ``gkern``: a Dirac at the centre of a ``klen x klen`` grid smoothed by
    ``scipy.ndimage.gaussian_filter(sigma=nsig)`` (reflecting borders), float32 ``(klen, klen)``."""
    from scipy.ndimage import gaussian_filter

    dirac = np.zeros((klen, klen))
    dirac[klen // 2, klen // 2] = 1.0
    return torch.from_numpy(gaussian_filter(dirac, nsig)).float()


def model_mean(blackbox: Any, like: Tensor) -> Tensor:
    """The model's normalisation mean ``(1, 3, 1, 1)`` in [0, 1] space (0 when the black box has none)."""
    mean = getattr(getattr(blackbox, "classifier", None), "mean", None)
    if mean is None:
        return torch.zeros(1, like.shape[1], 1, 1, dtype=like.dtype, device=like.device)
    return mean.to(like.device, like.dtype).view(1, -1, 1, 1)


def rise_blur(x: Tensor, mean: Tensor, klen: int = 11, nsig: float = 5.0) -> Tensor:
    """RISE's blurred substrate in [0, 1] space: the per-channel conv (zero padding) applied to the normalised
    image, mapped back: ``blur(x) + mean·(1 - blur(1))``. ``x`` ``(N, C, H, W)``, ``mean`` ``(1, C, 1, 1)``."""
    kernel = rise_gaussian_kernel(klen, nsig).to(x.device, x.dtype)
    channels = x.shape[1]
    weight = kernel.expand(channels, 1, klen, klen)

    def conv(t: Tensor) -> Tensor:
        return torch.nn.functional.conv2d(t, weight, padding=klen // 2, groups=channels)

    return conv(x) + mean * (1.0 - conv(torch.ones_like(x[:1])))


def make_fill(fill: str, x: Tensor, blackbox: Any, preset: CausalPreset) -> Tensor:
    """The substrate ``(N, C, H, W)`` named ``fill`` for images ``x``."""
    if fill == "zeros":
        return torch.zeros_like(x)
    if fill == "model_mean":
        return model_mean(blackbox, x).expand_as(x)
    if fill == "blur":
        return rise_blur(x, model_mean(blackbox, x), preset.blur_kernel, preset.blur_sigma)
    raise ToolkitError(f"preset {preset.name}: unknown fill {fill!r}; use zeros, blur or model_mean")


@dataclass
class CausalResult:
    """Insertion and deletion of N images under one preset (what every Insertion/Deletion protocol returns).

    Attributes:
        preset: the definition used.
        x: ``(n_steps + 1,)`` fraction of the image changed at each point (k_j / P, elements for ``la``).
        insertion_curves, deletion_curves: ``(N, n_steps + 1)`` scored-class probabilities.
        insertion_aucs, deletion_aucs: ``(N,)`` per-image AUCs (uniform trapezoid on [0, 1]).
        targets: ``(N,)`` scored classes.
    """

    preset: CausalPreset
    x: np.ndarray
    insertion_curves: np.ndarray
    deletion_curves: np.ndarray
    insertion_aucs: np.ndarray
    deletion_aucs: np.ndarray
    targets: np.ndarray

    insertion_auc = property(lambda self: mean_over_images(self.insertion_aucs),
                             doc="Mean insertion AUC over the images (higher is better); NaN for none.")
    deletion_auc = property(lambda self: mean_over_images(self.deletion_aucs),
                            doc="Mean deletion AUC over the images (lower is better); NaN for none.")

    @property
    def insertion_curve(self) -> np.ndarray:
        """``(n_steps + 1,)`` mean insertion curve over the images."""
        return self.insertion_curves.mean(axis=0)

    @property
    def deletion_curve(self) -> np.ndarray:
        """``(n_steps + 1,)`` mean deletion curve over the images."""
        return self.deletion_curves.mean(axis=0)

    @property
    def n_steps(self) -> int:
        """Number of steps (points per curve minus one)."""
        return len(self.x) - 1


def element_ranks(maps: Tensor) -> Tensor:
    """Rank of every element of each map: 0 = largest signed value, ties by lowest flat index (stable sort).

    Args:
        maps: ``(B, C', H, W)`` float (``C' = 1`` ranks pixels).

    Returns:
        int64 ``(B, C', H, W)`` with values 0 .. C'·H·W - 1 (a permutation per map).

    Raises:
        ToolkitError: a map holds NaN or inf (no order exists).
    """
    if not torch.isfinite(maps).all():
        raise ToolkitError("maps contain NaN or inf; cannot rank them")
    flat = maps.reshape(maps.shape[0], -1)
    order = torch.argsort(flat, dim=1, descending=True, stable=True)
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(flat.shape[1], device=flat.device).expand_as(order))
    return ranks.view(maps.shape)


def pixel_ranks(maps: Tensor) -> Tensor:
    """Rank of every pixel of each ``(N, H, W)`` map: 0 = largest value, ties by lowest flat index."""
    return element_ranks(maps.unsqueeze(1)).squeeze(1)


def normalised_auc(curves: np.ndarray) -> np.ndarray:
    """Trapezoid AUC on [0, 1] of curves ``(..., n+1)``: ``(sum - first/2 - last/2) / n``."""
    curves = np.asarray(curves, dtype=np.float64)
    n = curves.shape[-1] - 1
    if n < 1:
        raise ToolkitError("a curve needs at least 2 points")
    return (curves.sum(axis=-1) - curves[..., 0] / 2 - curves[..., -1] / 2) / n


def model_device(model: Any) -> torch.device:
    """The device of a :class:`models.BlackBox` (``.device``) or of a module's first parameter (else CPU)."""
    if hasattr(model, "device"):
        return torch.device(model.device)
    params = getattr(model, "parameters", None)
    if callable(params):
        first = next(iter(params()), None)
        if first is not None:
            return first.device
    return torch.device("cpu")


def probability_fn(model: Any) -> Callable[[Tensor], Tensor]:
    """``x (B, 3, H, W) in [0, 1] -> probabilities (B, C)`` for a :class:`models.BlackBox` (its ``predict``,
    which chunks and counts forwards) or for a logits model (softmax applied here)."""
    if hasattr(model, "predict") and callable(model.predict):
        return lambda x: model.predict(x).float()

    def probs(x: Tensor) -> Tensor:
        logits = model(x)
        # float32 at least; a float64 model (analytic test models) keeps its precision.
        return logits.to(torch.promote_types(logits.dtype, torch.float32)).softmax(dim=-1)

    return probs


def _rows(array: ArrayLike, start: int, stop: int) -> Tensor:
    """Rows ``start:stop`` of a tensor or numpy array (a memory map is read only there) as float."""
    part = array[start:stop]
    if isinstance(part, np.ndarray):
        part = torch.from_numpy(np.array(part, copy=True))
    return torch.as_tensor(part).float()


def play_games(
    model: Any,
    images: ArrayLike,
    maps: ArrayLike,
    preset: str | CausalPreset,
    targets: Any = None,
    *,
    batch_size: int = 64,
    image_group: int | None = None,
    substrate: Tensor | None = None,
    progress: bool = False,
) -> CausalResult:
    """The one Insertion/Deletion engine: both games of ``preset`` for N images, ``image_group`` at a time.

    Args:
        model: a :class:`models.BlackBox` (probabilities via ``predict``, forwards counted) or a logits model.
        images: ``(N, C, H, W)`` float in [0, 1] (tensor or numpy, e.g. a memory map).
        maps: ``(N, C', H, W)``, higher = more important; ``C' = 1`` ranks pixels, ``C' = C`` ranks elements
            (k_j then counts C' per pixel).
        preset: a preset name or :class:`CausalPreset` (schedule, fills, scored class).
        targets: ``(N,)`` classes to score; None = the top-1 on the clean image (refused by ``label`` presets).
        batch_size: (image, step) pairs built and forwarded at once; does not change the result.
        image_group: images whose ranks and fills are held at once (None = all).
        substrate: replaces both fills (a tensor broadcastable to ``(N, C, H, W)``, e.g. a per-model baseline).
        progress: a progress bar over the forwards.

    Returns:
        :class:`CausalResult`.
    """
    preset = get_preset(preset) if isinstance(preset, str) else preset
    if len(images.shape) != 4 or len(maps.shape) != 4 or images.shape[0] != maps.shape[0] \
            or tuple(images.shape[2:]) != tuple(maps.shape[2:]) or maps.shape[1] not in (1, images.shape[1]):
        raise ToolkitError(f"images must be (N, C, H, W) and maps (N, 1 or C, H, W) of the same N, H, W; got "
                           f"{tuple(images.shape)} and {tuple(maps.shape)}")
    if batch_size < 1 or (image_group is not None and image_group < 1):
        raise ToolkitError(f"--batch-size {batch_size} and image_group {image_group}: must be >= 1")
    if targets is None and preset.target == "label":
        raise ToolkitError(f"preset {preset.name} scores the label: pass targets (the eval list's classes)")
    n_images, _, height, width = (int(s) for s in images.shape)
    units = int(maps.shape[1])
    device = model_device(model)
    probs_of = probability_fn(model)
    thresholds = (units * pixel_thresholds(preset, height * width)).to(device)
    n_points = thresholds.numel()
    ins_curves = np.zeros((n_images, n_points), dtype=np.float64)
    del_curves = np.zeros((n_images, n_points), dtype=np.float64)
    scored = np.zeros(n_images, dtype=np.int64)
    group = image_group or max(n_images, 1)
    bar = None
    if progress:
        from common.progress import progress_bar

        bar = progress_bar(total=2 * n_images * n_points, desc=f"insertion/deletion {preset.name}", unit="fwd")
    with torch.inference_mode():
        for g0 in range(0, n_images, group):
            g1 = min(g0 + group, n_images)
            x = _rows(images, g0, g1).to(device)
            ranks = element_ranks(_rows(maps, g0, g1).to(device))
            if substrate is not None:
                ins_start = del_end = torch.as_tensor(substrate, dtype=x.dtype, device=device).expand_as(x)
            else:
                ins_start = make_fill(preset.insertion_start, x, model, preset)
                del_end = make_fill(preset.deletion_end, x, model, preset)
            if targets is None:
                cls = torch.cat([probs_of(x[i:i + batch_size]).argmax(dim=1) for i in range(0, g1 - g0, batch_size)])
            else:
                cls = torch.as_tensor(np.asarray(targets)[g0:g1], dtype=torch.long).view(-1)
            cls = cls.to(device)
            scored[g0:g1] = cls.cpu().numpy()
            pairs = (g1 - g0) * n_points
            for p0 in range(0, pairs, batch_size):
                p = torch.arange(p0, min(p0 + batch_size, pairs), device=device)
                img, pt = p // n_points, p % n_points
                changed = ranks[img] < thresholds[pt].view(-1, 1, 1, 1)
                inserted = torch.where(changed, x[img], ins_start[img])
                deleted = torch.where(changed, del_end[img], x[img])
                rows = torch.arange(p.numel(), device=device)
                if units == 1:  # pixel presets: both games in one call
                    probs = probs_of(torch.cat([inserted, deleted]))
                    ins_p, del_p = probs[rows, cls[img]], probs[rows + p.numel(), cls[img]]
                else:  # LA's element protocol: one call per game, as LA's eval.py batches them
                    ins_p, del_p = probs_of(inserted)[rows, cls[img]], probs_of(deleted)[rows, cls[img]]
                img_np, pt_np = (img + g0).cpu().numpy(), pt.cpu().numpy()
                ins_curves[img_np, pt_np] = ins_p.double().cpu().numpy()
                del_curves[img_np, pt_np] = del_p.double().cpu().numpy()
                if bar is not None:
                    bar.update(2 * p.numel())
    if bar is not None:
        bar.close()
    return CausalResult(
        preset=preset,
        x=(thresholds.double() / (units * height * width)).cpu().numpy(),
        insertion_curves=ins_curves,
        deletion_curves=del_curves,
        insertion_aucs=normalised_auc(ins_curves),
        deletion_aucs=normalised_auc(del_curves),
        targets=scored,
    )


def _check_inputs(images: Tensor, maps: Tensor) -> tuple[Tensor, Tensor]:
    images = torch.as_tensor(images).float()
    maps = torch.as_tensor(maps).float()
    if images.ndim != 4 or maps.ndim != 3 or images.shape[0] != maps.shape[0] or images.shape[2:] != maps.shape[1:]:
        raise ToolkitError(f"images must be (N, C, H, W) and maps (N, H, W) of the same N, H, W; got "
                           f"{tuple(images.shape)} and {tuple(maps.shape)}")
    return images, maps


LA_IMAGE_GROUP = 16
"""Images held at once by the ``element`` presets (LA's evaluation of thousands of 3-channel maps)."""


def insertion_deletion(
    blackbox: Any,
    images: Tensor,
    maps: Tensor,
    preset: str | CausalPreset = "rise2018",
    targets: Any = None,
    batch_size: int = 64,
    progress: bool = False,
    la_maps: Tensor | None = None,
) -> CausalResult:
    """Insertion and Deletion curves and AUCs of dense maps under one preset (through :func:`play_games`).

    Args:
        blackbox: a :class:`models.base.BlackBox` (its ``predict`` gives probabilities and counts forwards).
        images: ``(N, 3, H, W)`` float in [0, 1] at the model's input size.
        maps: ``(N, H, W)`` saliency, higher = more important (only the order matters).
        preset: a preset name or :class:`CausalPreset`.
        targets: ``(N,)`` classes to score (required by the ``label`` presets; overrides top-1 otherwise).
        batch_size: (image, step) pairs built and forwarded at once; does not change the result.
        progress: a progress bar over the forwards.
        la_maps: for the ``element`` presets (``la``) only, native ``(N, 3, H, W)`` maps (LA ranks elements);
            default: ``maps`` repeated over the channels.

    Returns:
        :class:`CausalResult` with both curves per image and their AUCs.
    """
    preset = get_preset(preset) if isinstance(preset, str) else preset
    images, maps = _check_inputs(images, maps)
    if preset.unit == "element":
        native = maps.unsqueeze(1).expand_as(images) if la_maps is None else torch.as_tensor(la_maps).float()
        return play_games(blackbox, images, native, preset, targets, batch_size=batch_size,
                          image_group=LA_IMAGE_GROUP, progress=progress)
    return play_games(blackbox, images, maps.unsqueeze(1), preset, targets, batch_size=batch_size, progress=progress)


def insertion_images(image: np.ndarray, saliency: np.ndarray, fractions: np.ndarray,
                     preset: str | CausalPreset = "smdl_baseline", blackbox: Any = None) -> np.ndarray:
    """The insertion game's images, uint8 ``(F, H, W, 3)``: the top ``fraction`` of pixels (by ``saliency
    (H, W)``) copied from ``image`` (RGB uint8 ``(H, W, 3)``) into the preset's insertion start (black, or
    RISE's blur with the black box's mean)."""
    if saliency.shape != image.shape[:2]:
        raise ToolkitError(f"map {saliency.shape} and image {image.shape[:2]} must have the same H x W")
    spec = get_preset(preset) if isinstance(preset, str) else preset
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 255.0
    start = make_fill(spec.insertion_start, x, blackbox, spec)
    ranks = pixel_ranks(torch.from_numpy(np.asarray(saliency, dtype=np.float32))[None])
    counts = torch.from_numpy(np.round(np.asarray(fractions) * saliency.size).astype(np.int64))
    changed = ranks[None, None, 0] < counts.view(-1, 1, 1, 1)  # (F, 1, H, W)
    frames = torch.where(changed, x, start)
    return (frames.permute(0, 2, 3, 1).clamp(0, 1) * 255).round().byte().numpy()


def num_points(preset: str | CausalPreset, height: int, width: int) -> int:
    """Points per curve (n_steps + 1) of ``preset`` on ``H x W`` images."""
    preset = get_preset(preset) if isinstance(preset, str) else preset
    if preset.schedule == "pixels_per_step":
        return math.ceil(height * width / preset.pixels_per_step) + 1
    return preset.n_steps + 1
