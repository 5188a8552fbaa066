"""SMDL on an ImageNet classifier with superpixel regions (the original's ImageNet superpixel entry, with a
softmax classifier as the black box; EfficientNet-Lite0 by default, offline).

    python -m submodular_attribution.smdl_explanation_imagenet_superpixel --eval-list demo
"""

from submodular_attribution.driver import run_preset

if __name__ == "__main__":
    run_preset("smdl_explanation_imagenet_superpixel")
