"""SMDL on CUB-200 with the ICLR paper's prior-saliency + patch division (10 x 10 cells, 4 per region: 25 regions)
read from baseline maps (HSIC-Attribution in the paper; any baseline_attribution output works).

    python -m submodular_attribution.smdl_explanation_cub_prior --weights ViT-L-14.pt --class-names datasets/CUB/classes.txt --prior-dir explanation_results/cub/HsicAttributionMethod-8x8
"""

from __future__ import annotations

from dataclasses import replace

from submodular_attribution.cli import cli_entry
from submodular_attribution.smdl_explanation_cub_superpixel import PRESET as CUB_SUPERPIXEL

PRESET = replace(
    CUB_SUPERPIXEL,
    prog="submodular_attribution.smdl_explanation_cub_prior",
    description="Rank prior-saliency patch regions of CUB-200 birds (zero-shot CLIP with the bird template by default).",
    division="prior",
    extra_defaults={
        **CUB_SUPERPIXEL.extra_defaults,
        "prior_dir": "./explanation_results/cub/HsicAttributionMethod-8x8",
        "prior_grid_size": 10,
        "prior_cells_per_region": 4,
        "random_patch_number": 14,
    },
)

if __name__ == "__main__":
    cli_entry(PRESET)
