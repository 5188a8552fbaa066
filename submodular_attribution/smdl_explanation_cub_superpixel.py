"""SMDL on CUB-200 with SLICO superpixels (the original's cub-superpixel entry, lambda = 1, 1, 1, 1).

    python -m submodular_attribution.smdl_explanation_cub_superpixel --weights ViT-L-14.pt --class-names datasets/CUB/classes.txt
"""

from __future__ import annotations

from submodular_attribution.cli import Preset, cli_entry, shipped_config

PRESET = Preset(
    prog="submodular_attribution.smdl_explanation_cub_superpixel",
    description="Rank the SLICO superpixels of CUB-200 birds (zero-shot CLIP with the bird template by default).",
    datasets="datasets/CUB",
    eval_list="datasets/CUB/eval-resnet.txt",
    division="slico",
    lambdas=(1.0, 1.0, 1.0, 1.0),
    save_dir="./submodular_results/cub/",
    model="clip:ViT-L-14-quickgelu",
    extra_defaults={
        "weights": "openai",
        "class_names": "datasets/CUB/classes.txt",
        "templates": shipped_config("templates/cub.txt"),
    },
)

if __name__ == "__main__":
    cli_entry(PRESET)
