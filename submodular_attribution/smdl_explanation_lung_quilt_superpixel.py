"""SMDL on QuiltNet-B-32 (open_clip, histopathology) zero-shot over the three LC25000 lung classes: raw text
embeddings x10 as the original.

    python -m submodular_attribution.smdl_explanation_lung_quilt_superpixel --model clip:local-dir:QuiltNet-B-32/
"""

from submodular_attribution.driver import run_preset

if __name__ == "__main__":
    run_preset("smdl_explanation_lung_quilt_superpixel")
