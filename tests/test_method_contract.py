"""The one method declaration (common.method_contract): ``info = MethodInfo(...)`` read back as class attributes,
fields made from the spec at registration, the checks that refuse a class declared twice or half, and the lazy
method-family packages (common.lazy)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from common.method_contract import (
    METADATA,
    DeclaredMethod,
    MethodError,
    MethodInfo,
    MethodRegistry,
    MethodSpec,
    Param,
)

SPECS = {
    "toy": MethodSpec("toy", (
        Param("steps", 3, "int", "steps", low=1),
        Param("scale", 0.5, "float", "scale", low=0, high=1),
        Param("background", None, "object", "reference images", optional=True),
    )),
    "other": MethodSpec("other", ()),
}


class ToyBase(DeclaredMethod):
    """A family base class, as BaselineMethod / AttributionMethod."""

    def __post_init__(self) -> None:
        pass


def toy_registry() -> MethodRegistry:
    return MethodRegistry("toy", ToyBase, SPECS)


def test_registration_makes_the_spec_parameters_the_dataclass_fields_in_spec_order():
    registry = toy_registry()

    @registry.register
    class Toy(ToyBase):
        info = MethodInfo("toy", "Toy", needs_gradients=False, stochastic=True, model_output="logits")

    assert dataclasses.is_dataclass(Toy)
    assert [(f.name, f.default) for f in dataclasses.fields(Toy)] == [("steps", 3), ("scale", 0.5), ("background", None)]
    background = dataclasses.fields(Toy)[2]
    assert not background.repr and not background.compare  # an object parameter (a tensor) stays out of repr and ==
    assert repr(Toy(steps=5)) == "test_registration_makes_the_spec_parameters_the_dataclass_fields_in_spec_order." \
                                 "<locals>.Toy(steps=5, scale=0.5)"
    assert registry.get("toy", scale=1).scale == 1 and Toy(background=[1]).background == [1]
    with pytest.raises(MethodError, match="--steps 0: toy needs an integer >= 1"):
        Toy(steps=0)  # construction validates, whichever way the method is built
    with pytest.raises(MethodError, match="--scale 2: toy needs"):
        registry.get("toy", scale=2)
    assert registry.names() == ["toy"] and Toy.default_params == {"steps": 3, "scale": 0.5, "background": None}


def test_metadata_reads_from_info_on_the_class_and_the_instance():
    registry = toy_registry()

    @registry.register
    class Toy(ToyBase):
        info = MethodInfo("toy", "Toy", needs_gradients=True, stochastic=False, model_output="layer")

    for holder in (Toy, Toy()):
        assert [getattr(holder, key) for key in METADATA] == ["toy", "Toy", True, False, "layer"]


def test_a_half_or_twice_declared_method_is_refused():
    registry = toy_registry()
    with pytest.raises(TypeError, match="must declare info = MethodInfo"):
        registry.register(type("NoInfo", (ToyBase,), {}))
    with pytest.raises(TypeError, match="no spec 'missing'"):
        registry.register(type("Missing", (ToyBase,), {"info": MethodInfo("missing", "M", False, False, "logits")}))
    with pytest.raises(TypeError, match=r"\['steps'\] are declared by its spec"):
        registry.register(type("Twice", (ToyBase,), {"info": MethodInfo("toy", "T", False, False, "logits"),
                                                     "__annotations__": {"steps": "int"}, "steps": 3}))
    with pytest.raises(TypeError, match="must be a subclass of ToyBase"):
        registry.register(type("Stranger", (), {"info": MethodInfo("toy", "T", False, False, "logits")}))

    @registry.register
    class Toy(ToyBase):
        info = MethodInfo("toy", "Toy", needs_gradients=False, stochastic=False, model_output="logits")

    with pytest.raises(TypeError, match="must declare info"):  # a subclass inherits its parent's info: refused
        registry.register(type("Child", (Toy,), {}))
    with pytest.raises(TypeError, match="model_output must be one of"):
        MethodInfo("toy", "Toy", needs_gradients=False, stochastic=False, model_output="pixels")


def test_a_family_info_type_is_required_and_checked():
    from local_attribution.base import LocalInfo

    registry = MethodRegistry("toy", ToyBase, SPECS, info_type=LocalInfo)
    with pytest.raises(TypeError, match="must declare info = LocalInfo"):
        registry.register(type("Plain", (ToyBase,), {"info": MethodInfo("other", "O", True, False, "logits")}))
    with pytest.raises(TypeError, match="differentiates must be"):
        LocalInfo("other", "O", panel_label="O", differentiates="pixels")
    with pytest.raises(TypeError, match="panel_label"):
        LocalInfo("other", "O")
    info = LocalInfo("other", "O", panel_label="O")
    assert (info.needs_gradients, info.stochastic, info.model_output, info.default_batch_size) == (True, False,
                                                                                                  "logits", 1)


@pytest.mark.parametrize("package", ["local_attribution", "baseline_attribution"])
def test_every_registered_method_reads_its_metadata_from_one_info(package):
    import importlib

    module = importlib.import_module(package)
    for name, cls in module.METHODS.items():
        assert "info" in vars(cls) and cls.info.name == name
        for field in dataclasses.fields(cls.info):  # every info field, the family's extra ones too
            assert getattr(cls, field.name) == getattr(cls.info, field.name), (name, field.name)
        assert [f.name for f in dataclasses.fields(cls)] == [p.name for p in cls.spec.params], name


def test_method_packages_load_lazily_and_register_every_method_module():
    code = ("import sys\nimport baseline_attribution as b, local_attribution as l\n"
            "print('torch' in sys.modules, sorted(b.__all__) == sorted(['BaselineMethod', 'METHODS', 'REGISTRY', "
            "'get_method', 'list_methods', 'register']))\n"
            "print(len(b.METHODS), len(l.list_methods()), 'torch' in sys.modules, l.LAParts.__module__)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["False", "True", "10", "12", "True", "local_attribution.la"], out.stderr


def test_fill_by_chunks_fills_every_row_once_with_one_shared_bar():
    import torch

    from local_attribution.gradients import fill_by_chunks

    seen = []

    def compute(sl: slice, bar) -> torch.Tensor:
        seen.append((sl.start, sl.stop))
        bar.update(2)
        return torch.arange(sl.start, sl.stop, dtype=torch.float64)[:, None].expand(-1, 3) * 10

    out = fill_by_chunks(torch.full((7, 3), -1.0, dtype=torch.float64), 3, compute, 2, "toy", False)
    assert seen == [(0, 3), (3, 6), (6, 7)]
    assert out[:, 0].tolist() == [0, 10, 20, 30, 40, 50, 60] and bool((out[:, 0] == out[:, 2]).all())
