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
``la``             LA's protocol (:mod:`evals.la_insertion_deletion`): 3·H·W *elements* ranked, zero
                   substrate for both games, 224 pixels per step, scored class = top-1 (reused, not copied)
=================  ====================================================================================

RISE blurs the *normalised* tensor with zero padding; in [0, 1] space that is ``blur(x) + mean·(1 -
blur(1))`` (the border leans to the mean colour), which is what is computed here. Every forward goes through
the :class:`models.base.BlackBox`; the perturbed images of many (image, step) pairs are built at once from
one rank tensor (``rank < k_j``) and forwarded in chunks of ``batch_size`` pairs.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from common.errors import ToolkitError
from evals import la_insertion_deletion as la_protocol

Schedule = Literal["pixels_per_step", "fraction_floor", "linspace"]
Fill = Literal["zeros", "blur", "model_mean"]


@dataclass(frozen=True)
class CausalPreset:
    """One Insertion/Deletion definition.

    Attributes:
        name: preset key.
        insertion_start: what insertion starts from (``zeros``, ``blur`` = RISE's blurred image,
            ``model_mean`` = zero in the model's normalised space).
        deletion_end: what deleted pixels become (same choices).
        schedule: how k_j is computed (see the module table).
        pixels_per_step: for ``pixels_per_step``.
        n_steps: for ``fraction_floor`` and ``linspace`` (number of intervals; n_steps + 1 points).
        target: ``prediction`` (top-1 on the clean image) or ``label`` (the given class).
        blur_kernel, blur_sigma: RISE's ``gkern(klen, nsig)``.
        reference: where the definition comes from.
    """

    name: str
    insertion_start: Fill
    deletion_end: Fill
    schedule: Schedule
    pixels_per_step: int = 224
    n_steps: int = 50
    target: Literal["prediction", "label"] = "prediction"
    blur_kernel: int = 11
    blur_sigma: float = 5.0
    reference: str = ""


PRESETS: dict[str, CausalPreset] = {
    preset.name: preset
    for preset in (
        CausalPreset("rise2018", "blur", "model_mean", "pixels_per_step", pixels_per_step=224, target="prediction",
                     reference="RISE (Petsiuk et al. 2018) evaluation.py: blurred insertion, deletion to 0 in normalised space, 224 px/step"),
        CausalPreset("smdl_baseline", "zeros", "zeros", "fraction_floor", n_steps=50, target="label",
                     reference="SMDL eval_AUC_faithfulness_baseline: black fill, 50 steps"),
        CausalPreset("xplique", "zeros", "zeros", "linspace", n_steps=10, target="label",
                     reference="Xplique Insertion/Deletion (CausalFidelity): baseline 0, steps=10"),
        CausalPreset("la", "zeros", "zeros", "pixels_per_step", pixels_per_step=224, target="prediction",
                     reference="LA eval.py: RISE CausalMetric with zero substrate for both games, on 3·H·W elements"),
    )
}


def get_preset(name: str, **overrides: Any) -> CausalPreset:
    """The preset ``name`` with fields replaced by ``overrides`` (e.g. ``get_preset("xplique", n_steps=50)``)."""
    if name not in PRESETS:
        raise ToolkitError(f"unknown insertion/deletion preset {name!r}; choose one of {', '.join(PRESETS)}")
    return dataclasses.replace(PRESETS[name], **overrides)


def pixel_thresholds(preset: CausalPreset, num_pixels: int) -> Tensor:
    """k_j, the number of changed pixels at each point of a curve: int64 ``(n_steps + 1,)``, from 0 to P."""
    if preset.schedule == "pixels_per_step":
        n = la_protocol.num_steps(1, num_pixels, preset.pixels_per_step)
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
    """Insertion and deletion of N images under one preset.

    Attributes:
        preset: the definition used.
        x: ``(n_steps + 1,)`` fraction of pixels changed at each point (k_j / P).
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

    @property
    def insertion_auc(self) -> float:
        """Mean insertion AUC (higher is better)."""
        return float(self.insertion_aucs.mean()) if len(self.insertion_aucs) else float("nan")

    @property
    def deletion_auc(self) -> float:
        """Mean deletion AUC (lower is better)."""
        return float(self.deletion_aucs.mean()) if len(self.deletion_aucs) else float("nan")


def pixel_ranks(maps: Tensor) -> Tensor:
    """Rank of every pixel of each ``(N, H, W)`` map: 0 = largest value, ties by lowest flat index."""
    return la_protocol.element_ranks(maps.unsqueeze(1)).squeeze(1)


def scored_classes(blackbox: Any, x: Tensor, preset: CausalPreset, targets: Any) -> Tensor:
    """The class each curve scores: the given ``targets`` when set, else the preset's rule (top-1 or label)."""
    if targets is not None:
        return torch.as_tensor(np.asarray(targets), dtype=torch.long, device=x.device).view(-1)
    if preset.target == "label":
        raise ToolkitError(f"preset {preset.name} scores the label: pass targets (the eval list's classes)")
    return blackbox.predict(x).argmax(dim=1)


def _check_inputs(images: Tensor, maps: Tensor) -> tuple[Tensor, Tensor]:
    images = torch.as_tensor(images).float()
    maps = torch.as_tensor(maps).float()
    if images.ndim != 4 or maps.ndim != 3 or images.shape[0] != maps.shape[0] or images.shape[2:] != maps.shape[1:]:
        raise ToolkitError(f"images must be (N, C, H, W) and maps (N, H, W) of the same N, H, W; got "
                           f"{tuple(images.shape)} and {tuple(maps.shape)}")
    return images, maps


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
    """Insertion and Deletion curves and AUCs of dense maps under one preset.

    Args:
        blackbox: a :class:`models.base.BlackBox` (its ``predict`` gives probabilities and counts forwards).
        images: ``(N, 3, H, W)`` float in [0, 1] at the model's input size.
        maps: ``(N, H, W)`` saliency, higher = more important (only the order matters).
        preset: a preset name or :class:`CausalPreset`.
        targets: ``(N,)`` classes to score (required by the ``label`` presets; overrides top-1 otherwise).
        batch_size: (image, step) pairs built and forwarded at once; does not change the result.
        progress: tqdm bar over the pairs.
        la_maps: for the ``la`` preset only, native ``(N, 3, H, W)`` maps (LA ranks elements); default: ``maps``
            repeated over the channels.

    Returns:
        :class:`CausalResult` with both curves per image and their AUCs.
    """
    preset = get_preset(preset) if isinstance(preset, str) else preset
    images, maps = _check_inputs(images, maps)
    if batch_size < 1:
        raise ToolkitError(f"--batch-size must be >= 1, got {batch_size}")
    if preset.name == "la":
        return _la_protocol(blackbox, images, maps, preset, targets, batch_size, progress, la_maps)
    device = getattr(blackbox, "device", images.device)
    n_images, _, height, width = images.shape
    thresholds = pixel_thresholds(preset, height * width).to(device)
    n_points = thresholds.numel()
    ins_curves = np.zeros((n_images, n_points))
    del_curves = np.zeros((n_images, n_points))
    x = images.to(device)
    ranks = pixel_ranks(maps.to(device)).unsqueeze(1)  # (N, 1, H, W)
    cls = scored_classes(blackbox, x, preset, targets)
    ins_start = make_fill(preset.insertion_start, x, blackbox, preset)
    del_end = make_fill(preset.deletion_end, x, blackbox, preset)
    pairs = n_images * n_points
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=pairs, desc=f"insertion/deletion {preset.name}", unit="step", dynamic_ncols=True)
    for p0 in range(0, pairs, batch_size):
        p = torch.arange(p0, min(p0 + batch_size, pairs), device=device)
        img, pt = p // n_points, p % n_points
        changed = ranks[img] < thresholds[pt].view(-1, 1, 1, 1)
        inserted = torch.where(changed, x[img], ins_start[img])
        deleted = torch.where(changed, del_end[img], x[img])
        probs = blackbox.predict(torch.cat([inserted, deleted]))
        rows = torch.arange(p.numel(), device=device)
        img_np, pt_np = img.cpu().numpy(), pt.cpu().numpy()
        ins_curves[img_np, pt_np] = probs[rows, cls[img]].double().cpu().numpy()
        del_curves[img_np, pt_np] = probs[rows + p.numel(), cls[img]].double().cpu().numpy()
        if bar is not None:
            bar.update(p.numel())
    if bar is not None:
        bar.close()
    return CausalResult(
        preset=preset,
        x=(thresholds.double() / (height * width)).cpu().numpy(),
        insertion_curves=ins_curves,
        deletion_curves=del_curves,
        insertion_aucs=la_protocol.normalised_auc(ins_curves),
        deletion_aucs=la_protocol.normalised_auc(del_curves),
        targets=cls.cpu().numpy(),
    )


def _la_protocol(blackbox: Any, images: Tensor, maps: Tensor, preset: CausalPreset, targets: Any, batch_size: int,
                 progress: bool, la_maps: Tensor | None) -> CausalResult:
    """The ``la`` preset: :func:`evals.la_insertion_deletion.insertion_deletion` on 3-channel maps."""
    native = maps.unsqueeze(1).expand_as(images) if la_maps is None else torch.as_tensor(la_maps).float()
    out = la_protocol.insertion_deletion(blackbox, images, native, step=preset.pixels_per_step,
                                         batch_size=batch_size, target=targets, progress=progress)
    n = out["n_steps"]
    height, width = images.shape[2:]
    x = np.minimum(np.arange(n + 1) * preset.pixels_per_step, height * width) / (height * width)
    return CausalResult(preset, x, out["insertion_curves"], out["deletion_curves"], out["insertion_aucs"],
                        out["deletion_aucs"], out["targets"])


def num_points(preset: str | CausalPreset, height: int, width: int) -> int:
    """Points per curve (n_steps + 1) of ``preset`` on ``H x W`` images."""
    preset = get_preset(preset) if isinstance(preset, str) else preset
    if preset.schedule == "pixels_per_step":
        return math.ceil(height * width / preset.pixels_per_step) + 1
    return preset.n_steps + 1
