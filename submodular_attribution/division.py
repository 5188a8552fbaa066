"""One object per region division: its name, options, run-folder name, checks, per-image inputs and the division.

A division is registered with :func:`~submodular_attribution.regions.register_division` next to its function,
declaring its options (:class:`~submodular_attribution.selection.options.Option`, each with its flag), how it is
named in the run folder and how many regions it gives at a given input size. :class:`Division` binds the values:

    division = Division.from_values("slico", region_size=40)
    division.check(224, max_regions=1024)      # once, before the model loads, and again at another input size
    labels = division.divide(image_at_input_size, division.sample_inputs(folders, "967", "coffee"))

The driver only composes: flags -> :meth:`Division.from_args`; the explainer calls :meth:`Division.divide`.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from common.errors import ToolkitError
from submodular_attribution.regions import DIVISIONS, divide
from submodular_attribution.regions.base import DivisionSpec
from submodular_attribution.selection.options import identity_values, resolve


@dataclass(frozen=True)
class Division:
    """A registered division with its option values (``params``: what the division function receives and what
    the json and the run identity record; ``runtime``: the device, for divisions that run a model)."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def spec(self) -> DivisionSpec:
        if self.name not in DIVISIONS:
            raise ToolkitError(f"--superpixel-algorithm {self.name}: unknown division; choose one of {', '.join(sorted(DIVISIONS))}")
        return DIVISIONS[self.name]

    @classmethod
    def from_values(cls, name: str, **values: Any) -> Division:
        """``values`` checked against the division's declared options (refused when not declared); the
        identity-relevant ones (new options only when not at their default) kept as :attr:`params`."""
        probe = cls(name)
        spec = probe.spec
        runtime = {key: values.pop(key) for key in spec.runtime if key in values}
        resolved = resolve(f"--superpixel-algorithm {name}", spec.options, values)
        return cls(name, {**identity_values(spec.options, resolved), **runtime})

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Division:
        """The division of ``--superpixel-algorithm`` with its flags' values (and ``--device`` when it runs a model)."""
        spec = cls(args.superpixel_algorithm).spec
        values = {option.name: getattr(args, option.dest) for option in spec.options}
        values.update({key: getattr(args, key) for key in spec.runtime})
        return cls.from_values(args.superpixel_algorithm, **values)

    def values(self) -> dict[str, Any]:
        """Every declared option's value (defaults filled in)."""
        return resolve(self.name, self.spec.options, {k: v for k, v in self.params.items() if k not in self.spec.runtime})

    def folder_name(self) -> str:
        """The division's part of the run-folder name (``slico``, ``slico40``, ``grid7x7``, ``prior10x10-4``, ...)."""
        return self.spec.folder(self.values()) if self.spec.folder else self.name

    def expected_regions(self, input_size: int) -> int | None:
        """Regions expected on an ``input_size`` square image (None when it depends on the image)."""
        return self.spec.regions(self.values(), input_size) if self.spec.regions else None

    def check(self, input_size: int, max_regions: int) -> None:
        """The division's own bounds at ``input_size`` and at most ``max_regions`` expected regions."""
        values = self.values()
        if self.spec.check is not None:
            self.spec.check(values, input_size)
        expected = self.expected_regions(input_size)
        if expected is not None and expected > max_regions:
            raise ToolkitError(f"{self.size_flag()}: ~{expected} regions at {input_size}x{input_size}, more than "
                               f"--max-regions {max_regions} (greedy costs ~m^2 forwards); divide more coarsely or raise --max-regions")

    def size_flag(self) -> str:
        """``--flag value`` of the option that sets the region count (the first declared)."""
        if not self.spec.options:
            return f"--superpixel-algorithm {self.name}"
        first = self.spec.options[0]
        return f"{first.flag_name} {self.values()[first.name]}"

    def sample_inputs(self, folders: dict[str, str | None], class_folder: str, stem: str) -> dict[str, np.ndarray]:
        """The per-image inputs (a prior map, precomputed masks) of the sample ``<class_folder>/<stem>``."""
        from submodular_attribution.region_inputs import sample_region_inputs

        return sample_region_inputs(self.name, folders, class_folder, stem)

    def divide(self, image: np.ndarray, inputs: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """int32 ``(H, W)`` labels 0..m-1 of ``image`` (RGB uint8, already at the model's input size)."""
        return divide(image, self.name, **self.params, **(inputs or {}))
