"""The named metric definitions (Insertion/Deletion presets and MuFidelity presets) as plain data, importable
without torch so that entry modules can list and check them before anything heavy is loaded (``--help``,
flag validation). :mod:`evals.causal` and :mod:`evals.mufidelity` compute them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from common.errors import ToolkitError

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
        unit: ``pixel`` (the H·W pixels are ranked, all channels change together) or ``element`` (LA: the
            3·H·W elements are ranked, an ``(H, W)`` map is repeated over the channels, and k_j counts
            elements, C per pixel).
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
    unit: Literal["pixel", "element"] = "pixel"


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
                     reference="LA eval.py: RISE CausalMetric with zero substrate for both games, on 3·H·W elements",
                     unit="element"),
    )
}


def get_preset(name: str, **overrides: Any) -> CausalPreset:
    """The preset ``name`` with fields replaced by ``overrides`` (e.g. ``get_preset("xplique", n_steps=50)``)."""
    if name not in PRESETS:
        raise ToolkitError(f"unknown insertion/deletion preset {name!r}; choose one of {', '.join(PRESETS)}")
    return dataclasses.replace(PRESETS[name], **overrides)


@dataclass(frozen=True)
class MuFidelityConfig:
    """MuFidelity settings. ``grid_size=None`` = pixel-wise (g = H)."""

    name: str = "xplique"
    grid_size: int | None = 9
    subset_percent: float = 0.2
    nb_samples: int = 200
    correlation: Literal["spearman", "pearson"] = "spearman"
    subset_sampling: Literal["bernoulli", "exact"] = "bernoulli"
    baseline: float = 0.0
    reference: str = ""


MUFIDELITY_PRESETS: dict[str, MuFidelityConfig] = {
    c.name: c
    for c in (
        MuFidelityConfig("xplique", 9, 0.2, 200, reference="Xplique MuFidelity defaults"),
        MuFidelityConfig("smdl_clip", 7, 0.2, 32, reference="SMDL CLIP ImageNet evaluator (grid 7, 32 samples)"),
        MuFidelityConfig("smdl_imagebind", 10, 0.2, 32, reference="SMDL ImageBind evaluator (grid 10, 32 samples)"),
        MuFidelityConfig("smdl_cub", 10, 0.2, 16, reference="SMDL CUB evaluator (grid 10, 16 samples)"),
        MuFidelityConfig("smdl_celeba", 9, 0.2, 32, reference="SMDL Celeb-A evaluator (32 samples)"),
    )
}


def get_mufidelity_preset(name: str, **overrides: Any) -> MuFidelityConfig:
    """The preset ``name`` with fields replaced by ``overrides``."""
    if name not in MUFIDELITY_PRESETS:
        raise ToolkitError(f"unknown MuFidelity preset {name!r}; choose one of {', '.join(MUFIDELITY_PRESETS)}")
    return dataclasses.replace(MUFIDELITY_PRESETS[name], **overrides)
