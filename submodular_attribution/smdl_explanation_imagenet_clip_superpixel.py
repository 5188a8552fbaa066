"""SMDL on CLIP ViT-L/14 zero-shot (ImageNet, 80-template prototypes x100) with SLICO superpixels: the original's
headline run (README Insertion 0.7550 / Deletion 0.0814 with the 5k-true list).

    python -m submodular_attribution.smdl_explanation_imagenet_clip_superpixel --weights ViT-L-14.pt --Datasets datasets/imagenet/ILSVRC2012_img_val --eval-list datasets/imagenet/val_clip_vitl_5k_true.txt
"""

from __future__ import annotations

from submodular_attribution.cli import Preset, cli_entry

PRESET = Preset(
    prog="submodular_attribution.smdl_explanation_imagenet_clip_superpixel",
    description="Rank the SLICO superpixels of each image for a CLIP zero-shot classifier (open_clip); writes json/npy results.",
    datasets="datasets/imagenet/ILSVRC2012_img_val",
    eval_list="demo",
    division="slico",
    lambdas=(0.0, 0.05, 1.0, 1.0),
    save_dir="./submodular_results/imagenet-clip-vitl/",
    model="clip:ViT-L-14-quickgelu",
    extra_defaults={
        "weights": "openai",
    },
)

if __name__ == "__main__":
    cli_entry(PRESET)
