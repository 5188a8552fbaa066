"""The one contract of every attribution method that produces a map (torch-free: the CLIs validate with it
before torch or the model load).

Every map method, in every family (:mod:`local_attribution`, :mod:`baseline_attribution`, SMDL's rank map through
:mod:`common.attribution_maps`), follows the same rules:

* **Call**: ``method.attribute(model, inputs, target=None, *, generator=None, ...)``, Captum-like. ``inputs``
  float ``(B, 3, S, S)`` in [0, 1]; ``target`` an int, ``B`` ints or a ``(B,)`` tensor, None = the model's top-1;
  ``generator`` a ``torch.Generator``, None = one seeded with :data:`DEFAULT_SEED` (the same map every call; the
  global RNGs are never touched). The family decides what ``model`` is (a logits module, a black box) and may add
  keyword-only run options (``internal_batch_size``, ``progress``).
* **Parameters**: declared once per method as a :class:`MethodSpec` (name, default, type, allowed range, help)
  in a torch-free table (``<family>/specs.py``). The CLIs build their flags from it and validate with it before
  the model loads; the registry makes them the method class's dataclass fields (in the spec's order) and makes
  construction validate with it (the one validation point: ``get_method("rise", n_masks=0)`` and
  ``Rise(n_masks=0)`` both fail when constructed, never inside ``_attribute``).
* **Errors**: :class:`MethodError` (a :class:`common.errors.ToolkitError`, also a ``ValueError``), one line
  naming the flag and the allowed range: ``--p-keep 2.0: rise needs a number in (0, 1]``.
* **Declaration**: a method class states what it is once, as ``info = MethodInfo(...)`` (name, folder name, does
  it backpropagate, is it stochastic, which model output it reads; a family may add fields in a subclass of
  :class:`MethodInfo`), read back as class attributes (``cls.name``, ``cls.stochastic``, ...). Its parameters are
  not written in the class: :meth:`MethodRegistry.register` makes the class a dataclass whose fields are its
  spec's parameters, in the spec's order.
* **Registry**: one :class:`MethodRegistry` per family.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from common.errors import ToolkitError

DEFAULT_SEED = 0
"""Seed of the generator a stochastic method creates when none is given (every family, every entry module)."""

MODEL_OUTPUTS = ("probabilities", "logits", "layer", "regions")
"""What a method reads from the model: class probabilities, logits (and their gradients), a hidden layer's
activations, or region subsets scored by SMDL's objective."""

@dataclass(frozen=True)
class MethodInfo:
    """What a map method is, declared once per method class: ``info = MethodInfo("rise", "Rise", ...)``.

    Attributes:
        name: registry key and ``--method`` value (``rise``).
        display_name: human-readable name, also the folder name of its maps (``Rise``).
        needs_gradients: does it backpropagate through the model.
        stochastic: does it draw from a generator (a seeded one is made when none is given).
        model_output: what it reads from the model, one of :data:`MODEL_OUTPUTS`.
    """

    name: str
    display_name: str
    needs_gradients: bool
    stochastic: bool
    model_output: str

    def __post_init__(self) -> None:
        if self.model_output not in MODEL_OUTPUTS:
            raise TypeError(f"{self.name}: model_output must be one of {MODEL_OUTPUTS}, got {self.model_output!r}")


METADATA = tuple(field.name for field in dataclasses.fields(MethodInfo))
"""The fields of :class:`MethodInfo`: class attributes every registered method has."""


class _FromInfo:
    """A class (and instance) attribute read from the class's ``info``: ``cls.stochastic == cls.info.stochastic``."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.field = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        return getattr((owner or type(obj)).info, self.field)


class DeclaredMethod:
    """Base of every map method class: the fields of its ``info`` (a :class:`MethodInfo`) read as attributes.

    A family whose info type adds fields adds one ``field = DeclaredMethod.from_info()`` line per field.
    """

    info: ClassVar[MethodInfo]
    name = _FromInfo()
    display_name = _FromInfo()
    needs_gradients = _FromInfo()
    stochastic = _FromInfo()
    model_output = _FromInfo()

    @staticmethod
    def from_info() -> Any:
        """An attribute read from ``info`` (for the fields a family's info subclass adds)."""
        return _FromInfo()


class MethodError(ToolkitError, ValueError):
    """A bad method name, parameter or input: one line naming the flag (or argument) and what is allowed."""


def flag_of(param: str) -> str:
    """``n_masks`` -> ``--n-masks`` (the CLI spelling of a parameter)."""
    return "--" + param.replace("_", "-")


_KINDS = ("int", "float", "bool", "str", "floats", "object")


@dataclass(frozen=True)
class Param:
    """One method parameter: its default, type, allowed range and help.

    ``kind``: ``int``, ``float`` (finite), ``bool``, ``str``, ``floats`` (a non-empty tuple of finite floats) or
    ``object`` (anything; not settable from a command line, e.g. a tensor). ``low``/``high`` bound numbers (and
    every element of ``floats``), ``low_open``/``high_open`` exclude the bound; ``choices`` lists a ``str``'s
    allowed values; ``optional``: None is allowed (and means "the method's automatic choice").
    """

    name: str
    default: Any
    kind: str
    help: str = ""
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()
    optional: bool = False

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise TypeError(f"Param {self.name}: kind must be one of {_KINDS}")

    @property
    def flag(self) -> str:
        return flag_of(self.name)

    def allowed(self) -> str:
        """What the parameter accepts, in words: ``an integer >= 1``, ``a number in (0, 1]``, ``one of a, b``."""
        if self.kind == "bool":
            text = "true or false"
        elif self.kind == "str":
            text = f"one of {', '.join(self.choices)}" if self.choices else "a string"
        elif self.kind == "object":
            text = "a Python object"
        else:
            noun = {"int": "an integer", "float": "a finite number", "floats": "a list of finite numbers"}[self.kind]
            if self.low is not None and self.high is not None:
                text = (f"{noun} in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}"
                        f"{')' if self.high_open else ']'}")
            elif self.low is not None:
                text = f"{noun} {'>' if self.low_open else '>='} {self.low:g}"
            elif self.high is not None:
                text = f"{noun} {'<' if self.high_open else '<='} {self.high:g}"
            else:
                text = noun
        return text + (" (or none)" if self.optional else "")

    def _in_range(self, number: float) -> bool:
        if not math.isfinite(number):
            return False
        if self.low is not None and (number < self.low or (self.low_open and number == self.low)):
            return False
        return not (self.high is not None and (number > self.high or (self.high_open and number == self.high)))

    def check(self, value: Any, method: str) -> Any:
        """``value`` if it is allowed (ints given for a float become floats, lists for ``floats`` tuples).

        Raises:
            MethodError: ``--flag value: <method> needs <allowed>``.
        """
        bad = MethodError(f"{self.flag} {value!r}: {method} needs {self.allowed()}")
        if value is None:
            if self.optional:
                return None
            raise bad
        if self.kind == "object":
            return value
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise bad
            return value
        if self.kind == "str":
            if not isinstance(value, str) or (self.choices and value not in self.choices):
                raise bad
            return value
        if self.kind == "floats":
            items = tuple(value) if isinstance(value, (list, tuple)) else None
            if not items or not all(_is_number(v) and self._in_range(float(v)) for v in items):
                raise bad
            return tuple(float(v) for v in items)
        if not _is_number(value) or (self.kind == "int" and not float(value).is_integer()):
            raise bad
        if not self._in_range(float(value)):
            raise bad
        return int(value) if self.kind == "int" else float(value)

    def parse(self, text: str, method: str) -> Any:
        """A command-line string as this parameter's value (then :meth:`check`): ``"nan"`` is a float the range
        check refuses, ``"none"`` is None for optional parameters, ``"1,2"`` a ``floats`` tuple."""
        raw = text.strip()
        if self.optional and raw.lower() in ("none", "null", ""):
            return self.check(None, method)
        try:
            if self.kind == "bool":
                value: Any = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}[raw.lower()]
            elif self.kind == "int":
                value = int(raw)
            elif self.kind == "float":
                value = float(raw)
            elif self.kind == "floats":
                value = tuple(float(v) for v in raw.split(","))
            elif self.kind == "str":
                value = raw
            else:
                raise MethodError(f"{self.flag}: {method}'s {self.name} cannot be set from the command line")
        except (KeyError, ValueError):
            raise MethodError(f"{self.flag} {text}: {method} needs {self.allowed()}") from None
        return self.check(value, method)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


Rule = tuple[Callable[[Mapping[str, Any]], bool], str]
"""A cross-parameter check: ``(ok(values), message when not ok)``."""


@dataclass(frozen=True)
class MethodSpec:
    """A method's parameters, declared once (torch-free); ``rules`` are checks that involve several of them.

    ``open_params``: the method takes options this spec does not list (SMDL's adapter forwards its options to the
    explainer, which validates them itself). ``module``: the file ``<family>/<module>.py`` whose import registers
    the method (default: ``name``); the family package imports the modules its specs name
    (:func:`method_modules`), so a spec entry is a method's one registration line.
    """

    name: str
    params: tuple[Param, ...] = ()
    rules: tuple[Rule, ...] = ()
    open_params: bool = False
    module: str | None = None

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise self.unknown([name])

    def unknown(self, names: Iterable[str]) -> MethodError:
        valid = ", ".join(p.flag for p in self.params if p.kind != "object") or "none"
        return MethodError(f"{', '.join(flag_of(n) for n in names)}: not a parameter of {self.name} "
                           f"(its parameters: {valid})")

    def validate(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` (a subset of the parameters) checked and normalised; the rules see them over the defaults.

        Raises:
            MethodError: an unknown parameter, a value outside its range, or a broken rule.
        """
        if self.open_params:
            return dict(values)
        unknown = [k for k in values if k not in {p.name for p in self.params}]
        if unknown:
            raise self.unknown(unknown)
        checked = {k: self.param(k).check(v, self.name) for k, v in values.items()}
        merged = {**self.defaults(), **checked}
        for ok, message in self.rules:
            if not ok(merged):
                raise MethodError(f"{self.name}: {message}")
        return checked

    def parse(self, texts: Mapping[str, str]) -> dict[str, Any]:
        """Command-line strings ``{param: text}`` -> validated values (what the CLIs call before loading torch)."""
        unknown = [k for k in texts if k not in {p.name for p in self.params}]
        if unknown:
            raise self.unknown(unknown)
        return self.validate({k: self.param(k).parse(v, self.name) for k, v in texts.items()})


def check_finite_map(values: Any, what: str) -> None:
    """Raise :class:`MethodError` when the array ``values`` holds NaN or inf (such a map is never written)."""
    import numpy as np

    array = np.asarray(values)
    bad = int(array.size - np.count_nonzero(np.isfinite(array)))
    if bad:
        raise MethodError(f"{what}: the map has {bad} NaN/inf values of {array.size}; not written")


C = TypeVar("C", bound=type)


_FIELD_TYPES: dict[str, Any] = {"int": int, "float": float, "bool": bool, "str": str, "floats": tuple[float, ...],
                                "object": Any}


def spec_field(param: Param) -> tuple[Any, Any]:
    """The dataclass annotation and default of ``param``; ``object`` parameters (tensors) stay out of ``repr`` and
    ``==``."""
    kind = _FIELD_TYPES[param.kind]
    annotation = kind | None if param.optional and kind is not Any else kind
    if param.kind == "object":
        return annotation, dataclasses.field(default=param.default, repr=False, compare=False)
    return annotation, param.default


def method_modules(specs: Mapping[str, MethodSpec]) -> tuple[str, ...]:
    """The modules of a family package that register the methods of ``specs`` (each once, in the specs' order)."""
    return tuple(dict.fromkeys(spec.module or spec.name for spec in specs.values()))


class MethodRegistry:
    """Name -> method class of one family, with its torch-free specs.

    Args:
        family: ``"baseline"``, ``"local"``, ...; base: the family's base class (a :class:`DeclaredMethod`).
        specs: ``{name: MethodSpec}`` of the family, in display order (names without a class are not listed).
        info_type: the :class:`MethodInfo` (sub)class every method of this family declares.
        flag: the CLI flag that names a method of this family (for error messages).
    """

    def __init__(self, family: str, base: type, specs: Mapping[str, MethodSpec],
                 info_type: type[MethodInfo] = MethodInfo, flag: str = "--method") -> None:
        self.family, self.base, self.specs, self.info_type = family, base, specs, info_type
        self.flag = flag
        self.methods: dict[str, type] = {}

    def register(self, cls: C) -> C:
        """Class decorator: check ``cls``'s ``info``, make it a dataclass whose fields are its spec's parameters
        (annotation and default from each :class:`Param`, in the spec's order), add it.

        Sets ``cls.spec`` and ``cls.default_params``, and makes construction validate the parameters with the
        spec before the class's own ``__post_init__`` (if any) runs.

        Raises:
            TypeError: not a subclass of the base, no ``info`` of the family's type in the class itself, no spec
                of that name, or a parameter declared in the class body too.
        """
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise TypeError(f"{cls!r} must be a subclass of {self.base.__name__}")
        info = cls.__dict__.get("info")
        if not isinstance(info, self.info_type):
            raise TypeError(f"{cls.__name__} must declare info = {self.info_type.__name__}(...) in its body")
        spec = self.specs.get(info.name)
        if spec is None:
            raise TypeError(f"{cls.__name__}: no spec {info.name!r} in the {self.family} specs table")
        own = dict(cls.__dict__.get("__annotations__", {}))
        declared = [p.name for p in spec.params if p.name in own or p.name in cls.__dict__]
        if declared:
            raise TypeError(f"{cls.__name__}: {declared} are declared by its spec; remove them from the class")
        annotations = {}
        for param in spec.params:
            annotations[param.name], default = spec_field(param)
            setattr(cls, param.name, default)
        cls.__annotations__ = {**annotations, **own}
        cls = dataclasses.dataclass(cls)
        if info.name in self.methods and self.methods[info.name] is not cls:
            raise ValueError(f"{self.family} method name {info.name!r} registered twice")
        cls.spec = spec
        cls.default_params = spec.defaults()
        cls.__post_init__ = _validating_post_init(cls)
        self.methods[info.name] = cls
        return cls

    def names(self) -> list[str]:
        """Registered names in the specs' order."""
        return [n for n in self.specs if n in self.methods]

    def get(self, name: str, **params: Any) -> Any:
        """An instance of method ``name`` with ``params`` (the others keep their defaults).

        Raises:
            MethodError: unknown method (listing the valid ones) or a bad parameter.
        """
        cls = self.methods.get(name)
        if cls is None:
            raise MethodError(f"{self.flag} {name}: unknown {self.family} method; choose one of "
                              f"{', '.join(self.names())}")
        unknown = [k for k in params if k not in cls.default_params]
        if unknown:
            raise cls.spec.unknown(unknown)
        return cls(**params)


def _validating_post_init(cls: type) -> Callable[[Any], None]:
    """``__post_init__`` that validates with ``cls.spec`` then runs the class's own one (if it has one)."""
    own = getattr(cls, "__post_init__", None)
    own = getattr(own, "__wrapped_post_init__", own)
    spec = cls.spec

    def __post_init__(self: Any) -> None:
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
        for key, value in spec.validate(values).items():
            if value is not values[key] and not isinstance(value, (int, float)):  # e.g. a list given for a tuple
                object.__setattr__(self, key, value)
        if own is not None:
            own(self)

    __post_init__.__wrapped_post_init__ = own  # type: ignore[attr-defined]
    return __post_init__
