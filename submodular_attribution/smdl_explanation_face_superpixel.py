"""SMDL for face verification: an embedding black box (the target is the unmasked face's embedding, or
--reference) with evidential confidence from an EDL network (evidence scale 5), SLICO region size 15, ruler 40.

    python -m submodular_attribution.smdl_explanation_face_superpixel --model embed:resnet50 --weights face_resnet50.pth --uncertainty-weights face-edl-resnet101.pth
"""

from __future__ import annotations

from submodular_attribution.cli import Preset, cli_entry

PRESET = Preset(
    prog="submodular_attribution.smdl_explanation_face_superpixel",
    description="Rank the SLICO superpixels of face images against a reference embedding, with evidential (EDL) confidence.",
    datasets="datasets/celeb-a/test",
    eval_list="datasets/celeb-a/eval.txt",
    division="slico",
    region_size=15,
    lambdas=(1.0, 1.0, 1.0, 1.0),
    save_dir="./submodular_results/celeba/",
    model="embed:efficientnet_lite0",
    extra_defaults={
        "ruler": 40.0,
        "uncertainty_model": "resnet101",
        "evidence_scale": 5.0,
    },
)

if __name__ == "__main__":
    cli_entry(PRESET)
