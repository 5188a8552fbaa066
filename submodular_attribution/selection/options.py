"""Declared options: one :class:`Option` per setting of a selector (or a division), from which come its
command-line flag, its range check, its part of the run-folder name and its entry in the run identity.

A selector lists its options in the class attribute ``options``; ``Selector(**values)`` fills in the declared
defaults, checks every value and refuses a name it does not declare. The driver adds one flag per option name
(a flag shared by several selectors, e.g. ``--forward-budget``, defaults to None = "the chosen selector's
default"), so the Python and command-line defaults are the same object: ``Option.default``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from common.errors import ToolkitError

FolderPart = Callable[[Any, dict[str, Any]], "str | None"]


@dataclass(frozen=True)
class Option:
    """One typed setting.

    Attributes:
        name: keyword name (``forward_budget``); the flag is ``--forward-budget`` unless ``flag`` is given.
        type: ``int``, ``float`` or ``str``.
        default: the value when not given (Python and command line alike).
        help: one line for ``--help``.
        low, high: inclusive bounds (None = unbounded); checked with the flag name.
        choices: allowed values of a ``str`` option.
        folder: its part of the run-folder name: a format string of ``value`` (``"batch-{value}"``), a function
            ``(value, all values) -> str | None`` (None = no part), or None (never in the name).
        new: declared after run folders and identities were first named: it appears in the folder name and
            the run identity only when it differs from its default, so older runs keep their names and keys.
        flag: the command-line spelling when it differs from ``--<name with hyphens>``.
    """

    name: str
    type: type
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None
    folder: str | FolderPart | None = None
    new: bool = False
    flag: str | None = None

    @property
    def flag_name(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    @property
    def dest(self) -> str:
        """The argparse destination of :attr:`flag_name`."""
        return self.flag_name[2:].replace("-", "_")

    def check(self, value: Any) -> Any:
        """``value`` converted to :attr:`type` and checked; one :class:`ToolkitError` line naming the flag."""
        flag = self.flag_name
        if value is None and self.default is None:  # an optional setting left unset (e.g. --sam-checkpoint)
            return None
        if self.type is not str and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ToolkitError(f"{flag} {value!r}: must be a number ({self.type.__name__})")
        if self.type is int and isinstance(value, float):
            if not value.is_integer():
                raise ToolkitError(f"{flag} {value}: must be a whole number")
        value = self.type(value)
        if self.choices is not None and value not in self.choices:
            raise ToolkitError(f"{flag} {value}: choose one of {', '.join(self.choices)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ToolkitError(f"{flag} {value}: must be a finite number")
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            bounds = (f"between {self.low} and {self.high}" if self.low is not None and self.high is not None
                      else f">= {self.low}" if self.low is not None else f"<= {self.high}")
            raise ToolkitError(f"{flag} {value}: must be {bounds}")
        return value

    def folder_part(self, value: Any, values: dict[str, Any]) -> str | None:
        if self.folder is None or (self.new and value == self.default):
            return None
        if callable(self.folder):
            return self.folder(value, values)
        return self.folder.format(value=value)

    def but(self, **changes: Any) -> Option:
        """The same option with some fields changed (e.g. a shared flag whose default differs per selector)."""
        from dataclasses import replace

        return replace(self, **changes)


def when_positive(template: str) -> FolderPart:
    """A folder part shown only for a value > 0 (e.g. ``budget-{value}``: 0 = no budget, no part)."""
    return lambda value, values: template.format(value=value) if value > 0 else None


def resolve(owner: str, options: Iterable[Option], given: dict[str, Any]) -> dict[str, Any]:
    """Every declared option's value: ``given`` ones checked, the rest their defaults.

    Raises:
        ToolkitError: a name ``owner`` does not declare, or a value out of range.
    """
    declared = {option.name: option for option in options}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise ToolkitError(f"{owner} does not take {', '.join(unknown)}; it takes {', '.join(declared) or 'no options'}")
    return {name: option.check(given[name]) if name in given else option.default for name, option in declared.items()}


def folder_suffix(options: Iterable[Option], values: dict[str, Any]) -> str:
    """``-part-part...`` from the options' folder parts, in declaration order."""
    parts = [option.folder_part(values[option.name], values) for option in options]
    return "".join(f"-{part}" for part in parts if part is not None)


def identity_values(options: Iterable[Option], values: dict[str, Any]) -> dict[str, Any]:
    """The values that belong in the run identity (``new`` options only when not at their default)."""
    return {o.name: values[o.name] for o in options if not (o.new and values[o.name] == o.default)}
