"""LiMA on an ImageNet classifier with superpixel regions (the LIMA repo's single-modal
``efficientv2-smdl_explanation_imagenet_*_superpixel`` entries, specs/smdl.md §3.4): consistency 20,
collaboration 5, confidence 0.01, no effectiveness term, bidirectional search with 12 pending samples.

LiMA orders its weights (consistency, collaboration, confidence); here they keep the shared driver's order
``--lambda1`` confidence, ``--lambda2`` effectiveness, ``--lambda3`` consistency, ``--lambda4`` collaboration.

    python -m submodular_attribution.lima_explanation_imagenet_superpixel --eval-list demo
"""

from submodular_attribution.driver import run_preset

if __name__ == "__main__":
    run_preset("lima_explanation_imagenet_superpixel")
