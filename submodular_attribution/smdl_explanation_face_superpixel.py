"""SMDL for face verification: an embedding black box (the target is the unmasked face's embedding, or
--reference) with evidential confidence from an EDL network (evidence scale 5), SLICO region size 15, ruler 40.

    python -m submodular_attribution.smdl_explanation_face_superpixel --model embed:resnet50 --weights face_resnet50.pth --uncertainty-weights face-edl-resnet101.pth
"""

from submodular_attribution.driver import run_preset

if __name__ == "__main__":
    run_preset("smdl_explanation_face_superpixel")
