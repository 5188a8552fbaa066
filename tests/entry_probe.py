"""``python -m tests.entry_probe CASES_JSON``: run entry modules as ``python -m MODULE ARGS`` with torch blocked.

``CASES_JSON`` is a json list of ``[module, [args...]]``. Any attempt to import ``torch`` (or ``torch.*``) raises
ImportError and is recorded, so a case that needs torch fails fast instead of spending seconds loading it. Prints
one json line per case: ``{"module", "args", "code", "torch", "stdout", "stderr", "error"}`` (``code``: the exit
status, None when the module returned without exiting; ``torch``: the first blocked import, or None).
"""

from __future__ import annotations

import contextlib
import importlib.abc
import io
import json
import runpy
import sys
import traceback

BLOCKED: list[str] = []


class _BlockTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):  # noqa: ANN001 - the finder protocol
        if name == "torch" or name.startswith("torch."):
            BLOCKED.append(name)
            raise ImportError(f"entry_probe: import of {name} blocked")
        return None


def run_case(module: str, args: list[str]) -> dict:
    """Run one case; its exit code, output and whether it tried to import torch."""
    BLOCKED.clear()
    out, err = io.StringIO(), io.StringIO()
    code, error = None, None
    sys.argv = [module, *args]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) or exc.code is None else 1
            if not isinstance(exc.code, int) and exc.code is not None:
                err.write(str(exc.code))
        except BaseException:  # noqa: BLE001 - reported to the test
            error = traceback.format_exc(limit=8)
    return {"module": module, "args": args, "code": code, "torch": BLOCKED[0] if BLOCKED else None,
            "stdout": out.getvalue(), "stderr": err.getvalue(), "error": error}


def main() -> None:
    sys.meta_path.insert(0, _BlockTorch())
    cases = json.loads(sys.argv[1])
    results = [run_case(module, args) for module, args in cases]
    sys.stdout.write("\n".join(json.dumps(r) for r in results) + "\n")


if __name__ == "__main__":
    main()
