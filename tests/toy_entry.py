"""``python -m tests.toy_entry MODULE ARGS...``: run ``python -m MODULE ARGS`` with the toy models registered.

For subprocess tests (SIGKILL mid-run) of entry modules other than the SMDL driver (``tests.toy_models`` runs
that one). ``TOY_SLEEP=seconds`` slows every toy forward.
"""

from __future__ import annotations

import runpy
import sys

from tests.toy_models import register

if __name__ == "__main__":
    register()
    module = sys.argv[1]
    sys.argv = [module, *sys.argv[2:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
