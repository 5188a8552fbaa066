"""The one SMDL driver as a command: the flags of every preset, with the defaults of ``--preset NAME`` (default:
the ImageNet superpixel preset). Each ``submodular_attribution.smdl_explanation_*`` / ``lima_explanation_*``
module is the same command with its preset fixed. The driver itself is the library module
:mod:`submodular_attribution.driver`; the presets are data in :mod:`submodular_attribution.presets`.

    python -m submodular_attribution.cli --preset smdl_explanation_cub_superpixel --help
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from common.errors import exit_on_toolkit_error
from submodular_attribution.driver import run_preset
from submodular_attribution.presets import DEFAULT_PRESET, PRESETS, Preset, get_preset


def add_preset_flag(parser: argparse.ArgumentParser) -> None:
    """``--preset NAME`` (its value is checked by :func:`chosen_preset`, before the main parser runs)."""
    parser.add_argument("--preset", default=DEFAULT_PRESET, metavar="NAME",
                        help=f"whose defaults the other flags take: {', '.join(PRESETS)} (each is also an entry "
                             "module of its own)")


def chosen_preset(argv: list[str]) -> Preset:
    """The preset named by ``--preset`` in ``argv`` (the default without it), as this module's command."""
    pre = argparse.ArgumentParser(add_help=False)
    add_preset_flag(pre)
    known, _ = pre.parse_known_args(argv)
    return replace(exit_on_toolkit_error(get_preset)(known.preset), prog="submodular_attribution.cli")


def main(argv: list[str] | None = None) -> None:
    """Run the driver with the chosen preset's defaults; exits 0, 1 (a sample failed) or 2 (a flag error)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    run_preset(chosen_preset(argv), argv, add_flags=add_preset_flag)


if __name__ == "__main__":
    main()
