"""One flag style for every entry module: hyphens (``--eval-list``), with underscore aliases (``--eval_list``).

:func:`normalise_flags` rewrites a finished parser: each ``--some_flag`` becomes ``--some-flag`` in ``--help``
and both spellings parse (the original scripts' underscore spellings keep working in old command lines and
shell scripts); flags marked ``required=True`` move to a "required arguments" group so ``--help`` shows them
as required; each flag's default is shown once (:class:`OneDefaultFormatter`); a :class:`LazyChoices` flag lists
its names. Call it on the parser after every flag is added (other branches' flags included).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence

_STATES_DEFAULT = re.compile(r"%\(default\)|\(default\b|\bdefault:|\bdefaults? (is|are|to)\b", re.IGNORECASE)


class OneDefaultFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``(default: X)`` after a flag's help, once: not when the help already states its default (``(default:
    ImageNet)``), and not for ``None`` / ``False`` defaults (a flag that is off or not given says nothing)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (_STATES_DEFAULT.search(text) or action.default in (None, False, argparse.SUPPRESS)
                or action.default == [] or not action.option_strings):
            return text
        return text + " (default: %(default)s)"


def _one_default(formatter: type) -> type:
    """``formatter`` with :class:`OneDefaultFormatter`'s rule (keeps e.g. a raw description formatter's layout)."""
    if issubclass(formatter, OneDefaultFormatter):
        return formatter
    return type(f"OneDefault{formatter.__name__}", (OneDefaultFormatter, formatter), {})


def _hyphen(option: str) -> str:
    if not option.startswith("--"):
        return option
    return "--" + option[2:].replace("_", "-")


def _underscore(option: str) -> str:
    if not option.startswith("--"):
        return option
    return "--" + option[2:].replace("-", "_")


def normalise_flags(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Hyphen spellings in help, underscore aliases accepted, required flags grouped as required."""
    for action in list(parser._actions):
        shown: list[str] = []
        for option in action.option_strings:
            canonical = _hyphen(option)
            if canonical not in shown:
                shown.append(canonical)
        for option in list(action.option_strings) + shown:
            for alias in (_hyphen(option), _underscore(option)):
                existing = parser._option_string_actions.get(alias)
                if existing is None:
                    parser._option_string_actions[alias] = action
        action.option_strings = shown
        if isinstance(action.type, LazyChoices) and action.type.static and action.help is not None:
            listed = ", ".join(action.type.static)
            if listed not in action.help:
                action.help = f"{action.help}; one of: {listed}"
    parser.formatter_class = _one_default(parser.formatter_class)
    # abbreviations (--eval) match both spellings of one flag: count each flag once, not as ambiguous
    match_prefix = parser._get_option_tuples

    def one_per_flag(option_string: str) -> list[tuple]:
        seen: set[int] = set()
        unique = []
        for match in match_prefix(option_string):
            if id(match[0]) not in seen:
                seen.add(id(match[0]))
                unique.append(match)
        return unique

    parser._get_option_tuples = one_per_flag  # type: ignore[method-assign]
    required = [a for a in parser._actions if a.required and a.option_strings]
    if required:
        group = parser.add_argument_group("required arguments")
        for action in required:
            for other in parser._action_groups:
                if action in other._group_actions and other is not group:
                    other._group_actions.remove(action)
            group._group_actions.append(action)
        # argparse prints groups in creation order: put "required arguments" first after positionals
        parser._action_groups.remove(group)
        parser._action_groups.insert(1, group)
    return parser


class LazyChoices:
    """A ``type=`` for a flag whose choices come from a registry: checked and listed in ``--help`` without
    importing the registry (and torch).

    Args:
        load: returns the registry's names (imports it).
        names: the same names, static (:mod:`common.names`): ``--help`` lists them and a value among them is
            accepted without calling ``load``. A value outside them is refused at once, unless the registry
            module ``registry`` is already imported (something may have registered more names at run time, e.g.
            the tests' toy models): then ``load`` decides. Without ``names``, ``load`` decides every value.
        registry: module name of the registry, see ``names``.

    (argparse's own ``choices=`` is expanded by every ``--help``, which would import the registry and torch.)
    A value outside the names gets ``argument --flag: unknown 'x'; choose one of a, b, c``.
    """

    def __init__(self, load: Callable[[], Iterable[str]], names: Sequence[str] | None = None,
                 registry: str | None = None) -> None:
        self._load = load
        self._names: list[str] | None = None
        self.static = tuple(names) if names is not None else ()
        self.registry = registry
        self.__name__ = "choice"  # argparse names the type in some messages

    def names(self) -> list[str]:
        """Every valid name: the static ones, plus the registry's when it is loaded (or when there are none)."""
        if self.static and (self.registry is None or self.registry not in sys.modules):
            return list(self.static)
        if self._names is None:
            self._names = list(self._load())
        return self._names

    def __call__(self, value: str) -> str:
        if value in self.static:
            return value
        if value not in self.names():
            raise argparse.ArgumentTypeError(f"unknown {value!r}; choose one of {', '.join(self.names())}")
        return value

    def __contains__(self, value: object) -> bool:
        return value in self.static or value in self.names()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


OneDefaultHelpFormatter = OneDefaultFormatter  # the name the eval entry modules import


def add_aliases(parser: argparse.ArgumentParser, aliases: dict[str, Iterable[str]]) -> argparse.ArgumentParser:
    """Old spellings of a flag that still parse but are not shown in ``--help``: ``{"--save-dir": ["--out"]}``
    makes ``--out``/``--out`` with underscores set what ``--save-dir`` sets. Call after :func:`normalise_flags`."""
    for canonical, olds in aliases.items():
        action = parser._option_string_actions[canonical]
        for old in olds:
            for spelling in (_hyphen(old), _underscore(old)):
                if parser._option_string_actions.setdefault(spelling, action) is not action:
                    raise ValueError(f"alias {spelling} of {canonical} is already another flag")
    return parser


def _registry_names(module: str, function: str) -> Callable[[], Iterable[str]]:
    """``module.function()``, imported on first call (the registries import torch)."""

    def load() -> Iterable[str]:
        import importlib

        return getattr(importlib.import_module(module), function)()

    return load


def model_choices() -> LazyChoices:
    """``type=`` of a ``--model`` flag taking a registry classifier (:data:`common.names.MODELS`, plus names
    registered at run time once ``models.registry`` is loaded)."""
    from common.names import MODELS

    return LazyChoices(_registry_names("models", "list_models"), MODELS, "models.registry")


def la_method_choices() -> LazyChoices:
    """``type=`` of a ``--method`` / ``--methods`` flag taking LA or one of its gradient methods
    (:data:`common.names.LA_METHODS`)."""
    from common.names import LA_METHODS

    return LazyChoices(_registry_names("local_attribution", "list_methods"), LA_METHODS, "local_attribution.registry")
