"""One flag spelling per concept across the LA entry modules; every old spelling still parses, to the same
namespace, and is not shown in ``--help`` (issue 15).

Output folder: ``--save-dir``; folder of maps read: ``--attributions-dir``; one method: ``--method``; several:
``--methods``; LA's s, K, T: ``--spatial-range``, ``--max-iter``, ``--sampling-times``.
"""

from __future__ import annotations

import importlib

import pytest

# module -> (new spelling argv, old spelling argv): the same values, written the new and the old ways
CASES = {
    "local_attribution.generate_attributions": (
        ["--method", "ig", "--save-dir", "A", "--spatial-range", "5", "--max-iter", "6", "--sampling-times", "7"],
        ["--attr_method", "ig", "--prefix", "A", "--spatial_range", "5", "--max_iter", "6", "--sampling_times", "7"],
    ),
    "local_attribution.generate_pt": (
        ["--save-dir", "D", "--img-path", "I", "--eval-list", "demo"],
        ["--out", "D", "--img_path", "I", "--eval_list", "demo"],
    ),
    "evals.eval_la": (
        ["--method", "sg", "--save-dir", "S", "--attributions-dir", "A", "--sampling-times", "7", "--csv-path", "r.csv"],
        ["--attr_method", "sg", "--prefix", "S", "--attr_prefix", "A", "--samples_number", "7", "--csv_path", "r.csv"],
    ),
    "visualization.la_figures": (
        ["--attributions-dir", "A", "--methods", "la", "sm", "--sampling-times", "7"],
        ["--attr-prefix", "A", "--methods", "la", "sm", "--sampling_times", "7"],
    ),
    "scripts.benchmark_la": (
        ["--save-dir", "B", "--methods", "la", "ig", "--spatial-range", "5", "--eval-list", "demo"],
        ["--out-dir", "B", "--methods", "la", "ig", "--spatial_range", "5", "--eval_list", "demo"],
    ),
}
# further old spellings that must land where the new one does: (module, old argv, new argv)
MORE = [
    ("local_attribution.generate_attributions", ["--attr-method", "sm"], ["--method", "sm"]),
    ("evals.eval_la", ["--attr-method", "sm"], ["--method", "sm"]),
    ("evals.eval_la", ["--sampling_times", "9"], ["--sampling-times", "9"]),
    ("evals.eval_la", ["--samples-number", "9"], ["--sampling-times", "9"]),
    ("evals.eval_la", ["--attr-prefix", "A"], ["--attributions-dir", "A"]),
    ("visualization.la_figures", ["--prefix", "A"], ["--attributions-dir", "A"]),
    ("scripts.benchmark_la", ["--out_dir", "B"], ["--save-dir", "B"]),
]


@pytest.mark.parametrize("module", sorted(CASES))
def test_old_and_new_spellings_parse_to_the_same_namespace(module):
    parser = importlib.import_module(module).build_parser()
    new, old = CASES[module]
    parsed_new, parsed_old = vars(parser.parse_args(new)), vars(parser.parse_args(old))
    assert parsed_new == parsed_old
    assert parsed_new != vars(parser.parse_args([])), "the argv changed something (not all defaults)"


@pytest.mark.parametrize("module,old,new", MORE)
def test_every_old_spelling_is_an_alias(module, old, new):
    parser = importlib.import_module(module).build_parser()
    assert vars(parser.parse_args(old)) == vars(parser.parse_args(new)) != vars(parser.parse_args([]))


@pytest.mark.parametrize("module", sorted(CASES))
def test_help_shows_only_the_new_spellings(module):
    text = importlib.import_module(module).build_parser().format_help()
    flags = {token.rstrip(",") for token in text.split() if token.startswith("--")}
    hidden = {"--attr-method", "--attr_method", "--prefix", "--attr-prefix", "--attr_prefix", "--out-dir",
              "--samples-number", "--samples_number"} | ({"--out"} if module != "visualization.la_figures" else set())
    assert not flags & hidden, flags & hidden
    assert {"--save-dir", "--attributions-dir", "--method", "--methods", "--sampling-times"} & flags


def test_la_parameters_are_one_declaration():
    """s, K, T read the same help and default in every module (from local_attribution.specs)."""
    helps = {}
    for module in ("local_attribution.generate_attributions", "evals.eval_la", "visualization.la_figures",
                   "scripts.benchmark_la"):
        parser = importlib.import_module(module).build_parser()
        action = parser._option_string_actions["--max-iter"]
        assert (action.default, action.type) == (20, int)
        helps[module] = action.help.split(": ", 1)[1]
    assert len(set(helps.values())) == 1, helps


def test_an_unknown_model_is_refused_by_the_parser_without_torch():
    """generate_attributions --model resnet5O: one argparse error listing the names, before torch (was: after
    importing the registry in run)."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys\nsys.modules['torch'] = None  # importing torch now fails\n"
            "from local_attribution.generate_attributions import main\nmain(['--model', 'resnet5O'])\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent.parent, timeout=60)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "argument --model: unknown 'resnet5O'; choose one of efficientnet_lite0" in proc.stderr
