"""SMDL on CLIP ViT-L/14 zero-shot with Segment-Anything regions (LiMA's online SAM entry, plain greedy).

    python -m submodular_attribution.smdl_explanation_imagenet_clip_sam --weights ViT-L-14.pt --sam-checkpoint ckpt/pytorch_model/sam_vit_h_4b8939.pth
"""

from submodular_attribution.driver import run_preset

if __name__ == "__main__":
    run_preset("smdl_explanation_imagenet_clip_sam")
