"""The parser and model flags shared by the entry modules that load a model to score or draw maps
(``evals.report``, ``evals.eval_AUC_faithfulness_baseline``, ``visualization.insertion_animation``); torch-free,
so ``--help`` and flag errors never import torch.

    parser = entry_parser("evals.report", __doc__)
    add_model_flags(parser)                  # --model, --weights, --device, --batch-size
    ...
    check_model_flags(args)                  # before anything heavy: --batch-size >= 1, --weights exists
    blackbox = load_blackbox(args)           # imports torch and loads the model
"""

from __future__ import annotations

import argparse
from typing import Any

from common.cli_style import OneDefaultFormatter
from common.validation import check_input_file, check_range


def entry_parser(module: str, doc: str | None) -> argparse.ArgumentParser:
    """The parser of ``python -m <module>``: described by the first paragraph of ``doc`` (the module docstring),
    each default shown once (:class:`common.cli_style.OneDefaultFormatter`)."""
    return argparse.ArgumentParser(prog=f"python -m {module}", description=(doc or "").split("\n\n")[0],
                                   formatter_class=OneDefaultFormatter)


def add_model_flags(parser: argparse.ArgumentParser, batch_size: int = 32) -> None:
    """``--model``, ``--weights``, ``--device`` and ``--batch-size`` (images per model forward)."""
    parser.add_argument("--model", default="efficientnet_lite0",
                        help="black box: a name of models.list_models() (efficientnet_lite0, resnet50, vgg16, ...), "
                             "clip:<arch> or embed:<model>")
    parser.add_argument("--weights", default=None,
                        help="weights file of --model (torchvision nets, CLIP); unset = the model's offline default")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, or auto")
    parser.add_argument("--batch-size", type=int, default=batch_size, help="images per model forward")


def check_model_flags(args: argparse.Namespace) -> None:
    """The model flags checked before torch is imported.

    Raises:
        ToolkitError: ``--batch-size`` below 1, or a ``--weights`` file that does not exist.
    """
    check_range("--batch-size", args.batch_size, 1)
    check_input_file("--weights", args.weights)


def load_blackbox(args: argparse.Namespace) -> Any:
    """The :class:`models.base.BlackBox` the model flags name (imports torch)."""
    from models import load_model

    return load_model(args.model, weights=args.weights, device=args.device, batch_size=args.batch_size)
