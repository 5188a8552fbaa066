"""SMDL on CUB-200 with SLICO superpixels (the original's cub-superpixel entry, lambda = 1, 1, 1, 1).

    python -m submodular_attribution.smdl_explanation_cub_superpixel --weights ViT-L-14.pt --class-names datasets/CUB/classes.txt
"""

from submodular_attribution.driver import run_preset

if __name__ == "__main__":
    run_preset("smdl_explanation_cub_superpixel")
