"""One-line user-facing errors and the wrapper every entry module's ``main`` runs under."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class ToolkitError(Exception):
    """A problem with the user's input (a file, a flag, a value), reported as one line naming the fix."""


def exit_on_toolkit_error(main: Callable[..., T]) -> Callable[..., T]:
    """Run ``main``; print a :class:`ToolkitError` as ``error: <message>`` and exit with status 2."""

    @functools.wraps(main)
    def wrapped(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except ToolkitError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None

    return wrapped
