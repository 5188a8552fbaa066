"""The parameters of every baseline method, declared once (torch-free, see :mod:`common.method_contract`).

``generate_explanation_maps`` builds its flags and validates them from this table before torch is imported; the
registry makes each method's parameters its dataclass fields, in this order. Order of the methods = the SMDL
paper's table order (the order of ``list_methods()``).
"""

from __future__ import annotations

from common.method_contract import MethodSpec, Param

FILLS = ("black", "grey", "mean")
"""What removed pixels become: ``black`` 0, ``grey`` 0.5, ``mean`` the model's normalisation mean colour (0 after
normalisation: the RISE paper's code, which masks normalised images)."""
SURROGATE_FILLS = (*FILLS, "segment_mean")
"""LIME / Kernel SHAP also offer ``segment_mean``: each superpixel's own mean colour (lime's ``hide_color=None``)."""

_LAYER = Param("layer", None, "str", "module name inside the classifier (e.g. body.layer4); none = the last "
               "feature map of the architecture", optional=True)
_NORMALIZE = Param("normalize", True, "bool", "min-max scale each map (pytorch-grad-cam)")
_FILL = Param("fill", "black", "str", "what removed pixels become", choices=FILLS)
_QUICKSHIFT = (
    Param("kernel_size", 4.0, "float", "quickshift kernel size (superpixels)", low=0, low_open=True),
    Param("max_dist", 200.0, "float", "quickshift max distance", low=0, low_open=True),
    Param("ratio", 0.2, "float", "quickshift colour/space ratio", low=0, high=1),
)
_GRID = Param("grid_size", 8, "int", "cells per side", low=1)
"""HSIC's and Sobol's mask grid."""
_N_SAMPLES = Param("n_samples", 1000, "int", "perturbed images per image", low=2)

SPECS: dict[str, MethodSpec] = {
    "gradcam": MethodSpec("gradcam", (_LAYER, _NORMALIZE)),
    "gradcampp": MethodSpec("gradcampp", (
        _LAYER, _NORMALIZE,
        Param("eps", 1e-6, "float", "added to Grad-CAM++'s alpha denominator (pytorch-grad-cam: 1e-6)", low=0),
    )),
    "scorecam": MethodSpec("scorecam", (
        _LAYER,
        Param("score", "probability", "str", "target score of the masked images", choices=("probability", "logit")),
        Param("channel_softmax", False, "bool", "weights = softmax over the channel scores (pytorch-grad-cam)"),
        _NORMALIZE,
        Param("align_corners", False, "bool", "upsample the activations corner-aligned (true: pytorch-grad-cam) or "
              "with half-pixel centres (false: the authors' code)"),
    )),
    "lime": MethodSpec("lime", (
        _N_SAMPLES,
        Param("kernel_width", 0.25, "float", "width of the exponential kernel on the cosine distance",
              low=0, low_open=True),
        Param("alpha", 1.0, "float", "ridge penalty", low=0),
        Param("fill", "segment_mean", "str", "what removed pixels become", choices=SURROGATE_FILLS),
        *_QUICKSHIFT,
    )),
    "kernelshap": MethodSpec("kernelshap", (
        _N_SAMPLES,
        Param("fill", "grey", "str", "what removed pixels become", choices=SURROGATE_FILLS),
        *_QUICKSHIFT,
    )),
    "rise": MethodSpec("rise", (
        Param("n_masks", 4000, "int", "number of random masks", low=1),
        Param("grid_size", 7, "int", "cells per side of the low-resolution grid", low=1),
        Param("p_keep", 0.5, "float", "probability a cell is kept", low=0, high=1, low_open=True),
        Param("normalize", "expectation", "str", "divide by n_masks * p_keep (paper) or by the mask sum per pixel "
              "(Xplique)", choices=("expectation", "mask_sum")),
        _FILL,
        Param("edges", "clamp", "str", "bilinear upsampling at the grid border: clamp (Xplique, torch) or reflect "
              "(the paper's skimage resize)", choices=("clamp", "reflect")),
    )),
    "hsic": MethodSpec("hsic", (_GRID, Param("n_designs", 500, "int", "number of masks", low=2), _FILL)),
    "sobol": MethodSpec("sobol", (_GRID, Param("n_designs", 32, "int", "Sobol points per matrix (a power of two keeps "
                                               "the sequence balanced)", low=2), _FILL)),
    "occlusion": MethodSpec("occlusion", (
        Param("patch_size", 10, "int", "side of the occluding square, pixels", low=1),
        Param("stride", 5, "int", "step between patch positions, pixels", low=1),
        _FILL,
    )),
    "ig": MethodSpec("ig", (
        Param("n_steps", 80, "int", "path points", low=2),
        Param("baseline_value", 0.0, "float", "value of the baseline image (0 = black)", low=0, high=1),
    )),
}
