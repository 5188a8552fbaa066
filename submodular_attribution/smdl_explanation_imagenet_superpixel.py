"""SMDL on an ImageNet classifier with superpixel regions (the original's ImageNet superpixel entry, with a
softmax classifier as the black box; EfficientNet-Lite0 by default, offline).

    python -m submodular_attribution.smdl_explanation_imagenet_superpixel --eval-list demo
"""

from __future__ import annotations

from submodular_attribution.cli import Preset, cli_entry

PRESET = Preset(
    prog="submodular_attribution.smdl_explanation_imagenet_superpixel",
    description=(
        "Rank the superpixels of each image by greedy submodular subset selection for an ImageNet classifier; "
        "writes json/npy results for evals.eval_AUC_faithfulness and visualization.demo."
    ),
    datasets="datasets/imagenet/ILSVRC2012_img_val",
    eval_list="demo",
    division="slico",
    lambdas=(0.0, 0.05, 1.0, 1.0),
    save_dir="./submodular_results/imagenet-{model}/",
)

if __name__ == "__main__":
    cli_entry(PRESET)
