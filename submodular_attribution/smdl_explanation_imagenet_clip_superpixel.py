"""SMDL on CLIP ViT-L/14 zero-shot (ImageNet, 80-template prototypes x100) with SLICO superpixels: the original's
headline run (README Insertion 0.7550 / Deletion 0.0814 with the 5k-true list).

    python -m submodular_attribution.smdl_explanation_imagenet_clip_superpixel --weights ViT-L-14.pt --Datasets datasets/imagenet/ILSVRC2012_img_val --eval-list datasets/imagenet/val_clip_vitl_5k_true.txt
"""

from submodular_attribution.driver import run_preset

if __name__ == "__main__":
    run_preset("smdl_explanation_imagenet_clip_superpixel")
