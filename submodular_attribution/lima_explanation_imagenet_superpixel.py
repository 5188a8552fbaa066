"""LiMA on an ImageNet classifier with superpixel regions (the LIMA repo's single-modal
``efficientv2-smdl_explanation_imagenet_*_superpixel`` entries, specs/smdl.md §3.4): consistency 20,
collaboration 5, confidence 0.01, no effectiveness term, bidirectional search with 12 pending samples.

LiMA orders its weights (consistency, collaboration, confidence); here they keep the shared driver's order
``--lambda1`` confidence, ``--lambda2`` effectiveness, ``--lambda3`` consistency, ``--lambda4`` collaboration.

    python -m submodular_attribution.lima_explanation_imagenet_superpixel --eval-list demo
"""

from __future__ import annotations

from submodular_attribution.cli import Preset, cli_entry

PRESET = Preset(
    prog="submodular_attribution.lima_explanation_imagenet_superpixel",
    description=(
        "Rank the superpixels of each image with LiMA's weights and bidirectional greedy for an ImageNet "
        "classifier; writes json/npy results for evals.eval_AUC_faithfulness and visualization.demo."
    ),
    datasets="datasets/imagenet/ILSVRC2012_img_val",
    eval_list="demo",
    division="slico",
    lambdas=(0.01, 0.0, 20.0, 5.0),
    save_dir="./submodular_results/imagenet-{model}/",
    selector="bidirectional",
    pending_samples=12,
)

if __name__ == "__main__":
    cli_entry(PRESET)
