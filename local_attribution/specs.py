"""The hyper-parameters of LA and its 11 gradient methods, declared once (torch-free, see
:mod:`common.method_contract`).

``generate_attributions`` validates its LA flags with this table before torch is imported; the registry makes these
parameters each method's dataclass fields, with these defaults. Order = the paper's comparison panel
(LA, AGI, AttEXplore, BIG, DeepLIFT, EG, FIG, GIG, IG, MFABA, SG, SM): the order of ``list_methods()``.
"""

from __future__ import annotations

import argparse

from common.cli_style import la_method_choices
from common.method_contract import MethodSpec, Param

INTEGRATION_RULES = ("riemann_trapezoid", "riemann_left", "riemann_right", "riemann_middle", "gausslegendre")

_CLIP = (
    Param("clip_min", 0.0, "float", "lowest valid input value"),
    Param("clip_max", 1.0, "float", "highest valid input value"),
)
_CLIP_RULE = (lambda v: v["clip_min"] < v["clip_max"], "clip_min must be below clip_max")
_BASELINE = Param("baseline_value", 0.0, "float", "value of the baseline image (0 = black)", low=0, high=1)
_RULE = Param("method", "riemann_trapezoid", "str", "quadrature rule", choices=INTEGRATION_RULES)
_TRAPEZOID_RULE = (lambda v: v["method"] != "riemann_trapezoid" or v["n_steps"] >= 2,
                   "riemann_trapezoid needs --n-steps >= 2")
_NUM_CLASSES = Param("num_classes", None, "int", "classes to sample targets from (none = all outputs)", low=2,
                     optional=True)

SPECS: dict[str, MethodSpec] = {
    "la": MethodSpec("la", (
        Param("spatial_range", 20.0, "float", "s, neighbourhood divisor (eps = x / s per element)",
              low=0, low_open=True),
        Param("max_iter", 20, "int", "K, steps per exploration path", low=1),
        Param("sampling_times", 20, "int", "T: T - 1 targeted paths + 1 untargeted path", low=1),
        _NUM_CLASSES, *_CLIP,
    ), rules=(_CLIP_RULE,)),
    "agi": MethodSpec("agi", (
        Param("epsilon", 0.05, "float", "step size of the adversarial path", low=0, low_open=True),
        Param("max_iter", 20, "int", "steps per class path", low=1),
        Param("topk", 20, "int", "number of false classes whose paths are summed", low=1),
        _NUM_CLASSES, *_CLIP,
    ), rules=(_CLIP_RULE,)),
    "attexplore": MethodSpec("attexplore", (
        Param("epsilon", 16 / 255, "float", "attack radius", low=0, low_open=True),
        Param("n_steps", 10, "int", "attack steps", low=1),
        Param("n_samples", 20, "int", "frequency-domain samples per step", low=1),
        Param("sigma", 16 / 255, "float", "frequency noise scale", low=0),
        Param("rho", 0.5, "float", "spectrum mask range", low=0),
        Param("momentum", 1.0, "float", "gradient momentum", low=0),
        Param("ti_kernel_size", 7, "int", "translation-invariance kernel size (odd)", low=1),
        Param("ti_nsig", 3.0, "float", "translation-invariance kernel width", low=0, low_open=True),
        Param("di_prob", 0.5, "float", "probability of the input-diversity transform", low=0, high=1),
        Param("di_resize_rate", 1.15, "float", "input-diversity resize rate", low=1),
        *_CLIP,
    ), rules=(_CLIP_RULE, (lambda v: v["ti_kernel_size"] % 2 == 1, "--ti-kernel-size must be odd"))),
    "big": MethodSpec("big", (
        Param("epsilons", (36 / 255, 64 / 255, 0.3, 0.5, 0.7, 0.9, 1.1), "floats", "attack radii tried in order",
              low=0, low_open=True),
        Param("attack_steps", 50, "int", "PGD steps per radius", low=1),
        Param("attack_step_size", 0.001, "float", "PGD step size", low=0, low_open=True),
        Param("n_steps", 50, "int", "integration steps", low=1),
        _RULE, *_CLIP,
    ), rules=(_CLIP_RULE, _TRAPEZOID_RULE)),
    "deeplift": MethodSpec("deeplift", (_BASELINE,)),
    "eg": MethodSpec("eg", module="expected_gradients", params=(
        Param("n_samples", 1, "int", "reference draws per image", low=1),
        Param("background", None, "object", "reference images (B', 3, H, W); none = the other images of the batch",
              optional=True),
    )),
    "fast_ig": MethodSpec("fast_ig", ()),
    "guided_ig": MethodSpec("guided_ig", (
        Param("steps", 15, "int", "path steps", low=1),
        Param("fraction", 0.25, "float", "fraction of features moved per step", low=0, high=1, low_open=True),
        Param("max_dist", 0.02, "float", "largest distance from the straight path", low=0),
        _BASELINE,
    )),
    "ig": MethodSpec("ig", (
        Param("n_steps", 50, "int", "integration steps", low=1),
        _RULE, _BASELINE,
    ), rules=(_TRAPEZOID_RULE,)),
    "mfaba": MethodSpec("mfaba", (
        Param("epsilon", 0.3, "float", "attack radius", low=0, low_open=True),
        Param("step_size", 0.001, "float", "attack step size", low=0, low_open=True),
        Param("n_steps", 50, "int", "attack steps", low=1),
        Param("early_stop", True, "bool", "stop a path once the prediction changes"),
        *_CLIP,
    ), rules=(_CLIP_RULE,)),
    "sg": MethodSpec("sg", module="smoothgrad", params=(
        Param("n_samples", 50, "int", "noisy samples per image", low=1),
        Param("stdev", 0.15, "float", "noise standard deviation", low=0),
    )),
    "sm": MethodSpec("sm", (Param("abs", True, "bool", "absolute value of the gradient"),), module="saliency"),
}


LA_FILE_PARAMS = ("spatial_range", "max_iter", "sampling_times")
"""LA's parameters that name its attribution file (``..._la_spatial-range-S_max-iter-K_sampling-times-T_...``)."""


def add_la_file_arguments(parser: argparse.ArgumentParser, role: str,
                          sampling_times_dest: str = "sampling_times") -> None:
    """``--spatial-range``, ``--max-iter``, ``--sampling-times`` (ints, default 20 each, the original's), the one
    spelling of LA's s, K, T in every entry module; their help is ``"{role}: "`` + the parameter's help in
    :data:`SPECS` (``role`` says what the module does with them, e.g. ``"LA file to read"``).
    ``sampling_times_dest`` keeps a module's own namespace name (``evals.eval_la``: ``samples_number``)."""
    params = {p.name: p for p in SPECS["la"].params}
    for name, metavar in zip(LA_FILE_PARAMS, "SKT"):
        dest = sampling_times_dest if name == "sampling_times" else name
        parser.add_argument("--" + name.replace("_", "-"), dest=dest, type=int, default=int(params[name].default),
                            metavar=metavar, help=f"{role}: {params[name].help}")


def add_methods_argument(parser: argparse.ArgumentParser, verb: str) -> None:
    """``--methods M [M ...]``: several of LA and its gradient methods (checked and listed in ``--help`` without
    torch); None when not given, meaning all 12 in the paper's panel order. ``verb``: what is done with them."""
    parser.add_argument("--methods", nargs="+", default=None, type=la_method_choices(), metavar="METHOD",
                        help=f"methods to {verb} (all 12 in panel order when not given)")
