"""SMDL on CLIP ViT-L/14 zero-shot with Segment-Anything regions (LiMA's online SAM entry, plain greedy).

    python -m submodular_attribution.smdl_explanation_imagenet_clip_sam --weights ViT-L-14.pt --sam-checkpoint ckpt/pytorch_model/sam_vit_h_4b8939.pth
"""

from __future__ import annotations

from submodular_attribution.cli import Preset, cli_entry

PRESET = Preset(
    prog="submodular_attribution.smdl_explanation_imagenet_clip_sam",
    description="Rank the SAM regions of each image for a CLIP zero-shot classifier; needs --sam-checkpoint.",
    datasets="datasets/imagenet/ILSVRC2012_img_val",
    eval_list="demo",
    division="sam",
    lambdas=(0.0, 0.05, 1.0, 1.0),
    save_dir="./submodular_results/imagenet-clip-vitl-sam/",
    model="clip:ViT-L-14-quickgelu",
    extra_defaults={
        "weights": "openai",
        "sam_checkpoint": "ckpt/pytorch_model/sam_vit_h_4b8939.pth",
        "sam_model_type": "vit_h",
        "sam_stability_score_thresh": 0.8,
    },
)

if __name__ == "__main__":
    cli_entry(PRESET)
