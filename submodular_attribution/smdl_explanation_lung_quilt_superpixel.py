"""SMDL on QuiltNet-B-32 (open_clip, histopathology) zero-shot over the three LC25000 lung classes: raw text
embeddings x10 as the original.

    python -m submodular_attribution.smdl_explanation_lung_quilt_superpixel --model clip:local-dir:QuiltNet-B-32/
"""

from __future__ import annotations

from submodular_attribution.cli import Preset, cli_entry, shipped_config

PRESET = Preset(
    prog="submodular_attribution.smdl_explanation_lung_quilt_superpixel",
    description="Rank the SLICO superpixels of lung histology images for QuiltNet zero-shot with custom class names.",
    datasets="datasets/medical_lung/lung_dataset",
    eval_list="datasets/medical_lung/LC25000_lung_quilt_1k_false.txt",
    division="slico",
    lambdas=(0.0, 0.05, 10.0, 1.0),
    save_dir="./submodular_results/lung-quilt/",
    model="clip:hf-hub:wisdomik/QuiltNet-B-32",
    extra_defaults={
        "class_names": shipped_config("classes/lc25000_lung.txt"),
        "templates": shipped_config("templates/lc25000_lung.txt"),
        "prototype_recipe": "raw",
        "logit_scale": 10.0,
    },
)

if __name__ == "__main__":
    cli_entry(PRESET)
