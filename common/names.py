"""Names of the toolkit's registries, importable without torch: ``--help`` lists them and flags are checked
against them before anything heavy loads (:class:`common.cli_style.LazyChoices`).

Each tuple must equal its registry; ``tests/test_entry_modules.py::test_static_names_equal_the_registries``
checks it, so adding a method, selector or model means adding its name here too.
"""

from __future__ import annotations

LA_METHODS = ("la", "agi", "attexplore", "big", "deeplift", "eg", "fast_ig", "guided_ig", "ig", "mfaba", "sg", "sm")
"""``local_attribution.list_methods()``."""

BASELINE_METHODS = ("gradcam", "gradcampp", "scorecam", "lime", "kernelshap", "rise", "hsic", "sobol", "occlusion",
                    "ig")
"""``baseline_attribution.list_methods()``."""

SELECTORS = ("bidirectional", "coarse", "greedy", "lazy", "onesided", "stochastic", "surrogate", "tail", "window")
"""``sorted(submodular_attribution.selection.SELECTORS)``."""

MODELS = ("efficientnet_lite0", "resnet18", "resnet50", "resnet101", "vgg16", "vgg19", "inception_v3", "maxvit_t",
          "vit_b_16", "mobilenet_v2", "efficientnet_b0", "densenet121", "swin_t", "convnext_tiny")
"""``models.list_models()`` (the registry proper; ``clip:`` / ``embed:`` families are checked by ``models``)."""

REPORT_METHODS = ("smdl", *LA_METHODS, *(name for name in BASELINE_METHODS if name not in LA_METHODS))
"""``evals.report.available_methods()`` (as a set: smdl, LA and its gradient methods, the baselines)."""
