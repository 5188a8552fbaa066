"""SMDL on CUB-200 with the ICLR paper's prior-saliency + patch division (10 x 10 cells, 4 per region: 25 regions)
read from baseline maps (HSIC-Attribution in the paper; any baseline_attribution output works).

    python -m submodular_attribution.smdl_explanation_cub_prior --weights ViT-L-14.pt --class-names datasets/CUB/classes.txt --prior-dir explanation_results/cub/HsicAttributionMethod-8x8
"""

from submodular_attribution.driver import run_preset

if __name__ == "__main__":
    run_preset("smdl_explanation_cub_prior")
