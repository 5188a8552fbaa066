"""The SMDL driver's presets as data: one :class:`Preset` (the defaults of one entry module) per name in
:data:`PRESETS`. Each ``submodular_attribution.<name>`` entry module is a docstring and
``run_preset("<name>")`` (:func:`submodular_attribution.driver.run_preset`); ``configs/<name without
smdl_explanation_>.yaml`` holds the same defaults as YAML. Nothing here imports torch.

A new preset: one entry in :data:`PRESETS` (only what differs from the :class:`Preset` defaults) and a module
``submodular_attribution/<name>.py`` with the two lines of the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from common.errors import ToolkitError
from common.eval_list import DEMO_LIST
from models import DEFAULT_MODEL

__all__ = ["DEFAULT_PRESET", "PRESETS", "Preset", "get_preset", "shipped_config"]

IMAGENET = "datasets/imagenet/ILSVRC2012_img_val"
CLIP_VIT_L = "clip:ViT-L-14-quickgelu"
SMDL_LAMBDAS = (0.0, 0.05, 1.0, 1.0)  # λ1 confidence, λ2 effectiveness, λ3 consistency, λ4 collaboration
UNIT_LAMBDAS = (1.0, 1.0, 1.0, 1.0)


@dataclass(frozen=True)
class Preset:
    """Defaults of one entry module: ``prog`` (its module path), the ``--help`` description and each flag's
    default; ``extra_defaults`` maps argparse dests of the family flags (``weights``, ``class_names``, ...) to
    their defaults."""

    prog: str
    description: str
    datasets: str = IMAGENET
    eval_list: str = DEMO_LIST
    division: str = "slico"
    region_size: int = 30
    lambdas: tuple[float, float, float, float] = SMDL_LAMBDAS
    save_dir: str = "./submodular_results/imagenet-{model}/"
    model: str = DEFAULT_MODEL
    selector: str = "greedy"
    effectiveness_features: str = "penultimate"
    pending_samples: int = 8
    extra_defaults: dict[str, Any] = field(default_factory=dict)


def shipped_config(relative: str) -> str:
    """Absolute path of a file shipped in the project's ``configs/`` folder (class-name and template lists)."""
    return str(Path(__file__).resolve().parents[1] / "configs" / relative)


def _preset(name: str, description: str, **defaults: Any) -> Preset:
    return Preset(prog=f"submodular_attribution.{name}", description=description, **defaults)


_CUB_SUPERPIXEL = _preset(
    "smdl_explanation_cub_superpixel",
    "Rank the SLICO superpixels of CUB-200 birds (zero-shot CLIP with the bird template by default).",
    datasets="datasets/CUB", eval_list="datasets/CUB/eval-resnet.txt", lambdas=UNIT_LAMBDAS,
    save_dir="./submodular_results/cub/", model=CLIP_VIT_L,
    extra_defaults={"weights": "openai", "class_names": "datasets/CUB/classes.txt",
                    "templates": shipped_config("templates/cub.txt")},
)

_ALL = [
    _preset(
        "smdl_explanation_imagenet_superpixel",
        "Rank the superpixels of each image by greedy submodular subset selection for an ImageNet classifier; "
        "writes json/npy results for evals.eval_AUC_faithfulness and visualization.demo.",
    ),
    _preset(
        "lima_explanation_imagenet_superpixel",
        "Rank the superpixels of each image with LiMA's weights and bidirectional greedy for an ImageNet "
        "classifier; writes json/npy results for evals.eval_AUC_faithfulness and visualization.demo.",
        lambdas=(0.01, 0.0, 20.0, 5.0), selector="bidirectional", pending_samples=12,
    ),
    _preset(
        "smdl_explanation_imagenet_clip_superpixel",
        "Rank the SLICO superpixels of each image for a CLIP zero-shot classifier (open_clip); writes json/npy results.",
        save_dir="./submodular_results/imagenet-clip-vitl/", model=CLIP_VIT_L, extra_defaults={"weights": "openai"},
    ),
    _preset(
        "smdl_explanation_imagenet_clip_sam",
        "Rank the SAM regions of each image for a CLIP zero-shot classifier; needs --sam-checkpoint.",
        division="sam", save_dir="./submodular_results/imagenet-clip-vitl-sam/", model=CLIP_VIT_L,
        extra_defaults={"weights": "openai", "sam_checkpoint": "ckpt/pytorch_model/sam_vit_h_4b8939.pth",
                        "sam_model_type": "vit_h", "sam_stability_score_thresh": 0.8},
    ),
    _CUB_SUPERPIXEL,
    replace(  # the CUB preset with the ICLR paper's prior-saliency + patch division
        _CUB_SUPERPIXEL,
        prog="submodular_attribution.smdl_explanation_cub_prior",
        description="Rank prior-saliency patch regions of CUB-200 birds (zero-shot CLIP with the bird template by default).",
        division="prior",
        extra_defaults={**_CUB_SUPERPIXEL.extra_defaults, "prior_dir": "./explanation_results/cub/HsicAttributionMethod-8x8",
                        "prior_grid_size": 10, "prior_cells_per_region": 4, "random_patch_number": 14},
    ),
    _preset(
        "smdl_explanation_face_superpixel",
        "Rank the SLICO superpixels of face images against a reference embedding, with evidential (EDL) confidence.",
        datasets="datasets/celeb-a/test", eval_list="datasets/celeb-a/eval.txt", region_size=15, lambdas=UNIT_LAMBDAS,
        save_dir="./submodular_results/celeba/", model="embed:efficientnet_lite0",
        extra_defaults={"ruler": 40.0, "uncertainty_model": "resnet101", "evidence_scale": 5.0},
    ),
    _preset(
        "smdl_explanation_lung_quilt_superpixel",
        "Rank the SLICO superpixels of lung histology images for QuiltNet zero-shot with custom class names.",
        datasets="datasets/medical_lung/lung_dataset", eval_list="datasets/medical_lung/LC25000_lung_quilt_1k_false.txt",
        lambdas=(0.0, 0.05, 10.0, 1.0), save_dir="./submodular_results/lung-quilt/", model="clip:hf-hub:wisdomik/QuiltNet-B-32",
        extra_defaults={"class_names": shipped_config("classes/lc25000_lung.txt"),
                        "templates": shipped_config("templates/lc25000_lung.txt"),
                        "prototype_recipe": "raw", "logit_scale": 10.0},
    ),
]

PRESETS: dict[str, Preset] = {preset.prog.rsplit(".", 1)[1]: preset for preset in _ALL}
DEFAULT_PRESET = "smdl_explanation_imagenet_superpixel"


def get_preset(name: str | Preset) -> Preset:
    """The preset ``name`` (a key of :data:`PRESETS`; a :class:`Preset` is returned as is); one-line error otherwise."""
    if isinstance(name, Preset):
        return name
    if name not in PRESETS:
        raise ToolkitError(f"--preset {name}: unknown preset; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]
