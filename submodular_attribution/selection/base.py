"""Selectors turn an objective over region subsets into a ranking of the regions.

A selector is a class with ``name``, ``description``, its declared ``options`` (:class:`~.options.Option`),
``expected_forwards(m, values, setup)`` and ``select(objective) -> Selection``, registered in :data:`SELECTORS`
with :func:`register_selector`. The objective needs only ``num_regions`` and
``score(subsets (B, m) bool) -> TermScores``. This module imports without torch (the driver reads the
declarations for ``--help`` and validation); the work imports it on first use.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from common.errors import ToolkitError
from submodular_attribution.selection.options import Option, resolve, when_positive
from submodular_attribution.terms import TERMS
from submodular_attribution.torch_proxy import torch

if TYPE_CHECKING:
    from submodular_attribution.objective import TermScores


class Objective(Protocol):
    num_regions: int

    def score(self, subsets: torch.Tensor) -> TermScores: ...


# options several selectors share (one flag each); a selector may change a field, e.g. FORWARD_BUDGET.but(default=245)
FORWARD_BUDGET = Option("forward_budget", int, 0, "forwards per image, every one counted (the source image, setup, "
                        "search and curves); 0 = no budget", low=0, folder=when_positive("budget-{value}"))
WINDOW = Option("window", int, 8, "most regions of the prior order compared per step", low=1, folder="{value}")
SEED = Option("seed", int, 0, "seed of the random draws (same seed, same ranking)", folder="seed-{value}")
GROUPS = Option("groups", int, 10, "number of spatial groups (super-regions) of the regions", low=1)


@dataclass
class Selection:
    """A ranking of all m regions (most important first) and, per ranked prefix, the objective's terms.

    ``curves[name][j]`` is the value of term ``name`` for the first j+1 ranked regions; names are
    confidence, effectiveness, consistency, collaboration and total (F).
    """

    ranking: list[int]
    curves: dict[str, list[float]] = field(default_factory=dict)


class Selector(ABC):
    """Attributes: ``name``; ``description`` (one line for ``--help``); ``options`` (the declared settings, each
    set as an attribute of the instance); ``stochastic`` (the ranking depends on ``seed``); ``exact`` (returns
    plain greedy's ranking when the objective is modular).

    ``Selector(progress=False, **values)``: the declared defaults fill in what is not given; a value out of
    range or a name the selector does not declare is a :class:`ToolkitError`.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = ()
    stochastic: ClassVar[bool] = False
    exact: ClassVar[bool] = False

    def __init__(self, progress: bool = False, **values: Any) -> None:
        self.progress = progress
        self.values = resolve(f"--selector {self.name}", self.options, values)
        for key, value in self.values.items():
            setattr(self, key, value)

    @classmethod
    def expected_forwards(cls, m: int, values: dict[str, Any], setup: int) -> int:
        """Forwards per image on ``m`` regions with the options ``values`` and ``setup`` effectiveness forwards
        (m when λ2 != 0, else 0), the source image's forward included: exact where the count does not depend
        on the image, else an estimate. This default is plain greedy's; a selector with a budget overrides it
        (:meth:`ForwardBudget.expected`)."""
        return setup + m * (m + 1) + 1

    @abstractmethod
    def select(self, objective: Objective) -> Selection:
        """Rank all regions of ``objective``."""

    def start_budget(self, objective: Objective) -> ForwardBudget:
        """The :class:`ForwardBudget` of a search on ``objective`` under this selector's ``forward_budget`` (0 when it
        declares none), the forwards made before the search already charged."""
        return ForwardBudget.start(objective, int(self.values.get("forward_budget", 0)))


SELECTORS: dict[str, type[Selector]] = {}


def register_selector(cls: type[Selector]) -> type[Selector]:
    SELECTORS[cls.name] = cls
    return cls


def selector_class(name: str) -> type[Selector]:
    """The registered selector ``name``; a one-line error listing the names otherwise."""
    if name not in SELECTORS:
        raise ToolkitError(f"--selector {name}: unknown selector; choose one of {', '.join(sorted(SELECTORS))}")
    return SELECTORS[name]


def get_selector(name: str, progress: bool = False, **options: Any) -> Selector:
    """The selector ``name`` with ``options`` (a name it does not declare is refused)."""
    return selector_class(name)(progress=progress, **options)


def forwards_spent(objective: Objective) -> int:
    """Forwards already spent on the image when the search starts: the source image's and the setup's
    (what a forward budget counts first)."""
    return int(getattr(objective, "source_forwards", 0)) + int(getattr(objective, "setup_forwards", 0))


def singles_cost(m: int, setup: int) -> int:
    """Forwards of one batch of single-region scores: m with the setup's cached single-region images, else 2m."""
    return m if setup else 2 * m


@dataclass
class ForwardBudget:
    """The forward accounting of one search: every selector that spends forwards charges them here, and asks
    here how much of the next step fits.

    ``limit`` is the selector's ``forward_budget`` (0 = no budget: every step fits, :meth:`share` gives the
    unbounded size); ``spent`` starts at the forwards made before the search (:func:`forwards_spent`: the source
    image's and the setup's) and grows with :meth:`charge`. The accounting only decides sizes: what is scored
    goes through the objective (the black box counts the real forwards).
    """

    limit: int
    spent: int = 0

    @classmethod
    def start(cls, objective: Objective, limit: int) -> ForwardBudget:
        """The budget of a search on ``objective`` with ``limit`` forwards (0 = none), its setup already charged."""
        return cls(limit, forwards_spent(objective))

    @property
    def bounded(self) -> bool:
        return self.limit > 0

    def charge(self, forwards: int) -> None:
        """Record ``forwards`` spent."""
        self.spent += forwards

    def left(self, reserve: int = 0) -> int:
        """Forwards left once ``reserve`` forwards are kept for later steps (negative when over; only when bounded)."""
        return self.limit - self.spent - reserve

    def fits(self, forwards: int, reserve: int = 0) -> bool:
        """Whether a step of ``forwards`` fits and still leaves ``reserve`` for later (always, without a budget)."""
        return not self.bounded or forwards <= self.left(reserve)

    def share(self, most: int | None, per_item: int = 2, reserve: int = 0, least: int = 1,
              unbounded: int | None = None) -> int:
        """How many items of ``per_item`` forwards this step takes: ``unbounded`` (default ``most``) without a budget;
        else as many as leave ``reserve`` forwards for the later steps, clamped to [``least``, ``most``] (``most``
        None = no upper bound)."""
        if not self.bounded:
            return most if unbounded is None else unbounded
        fitting = self.left(reserve) // per_item
        return max(least, fitting if most is None else min(most, fitting))

    def singleton_scores(self, objective: Objective) -> TermScores:
        """:func:`singleton_scores`, charged: m forwards with the setup's cached single-region images, else 2m."""
        m = objective.num_regions
        self.charge(m if getattr(objective, "singleton_probs", None) is not None else 2 * m)
        return singleton_scores(objective)

    @staticmethod
    def expected(values: dict[str, Any], least: int, unbounded: int) -> int:
        """A budgeted selector's :meth:`Selector.expected_forwards`: max(``forward_budget``, ``least``) with a budget
        (``least``: the forwards its search spends whatever the budget), else ``unbounded``."""
        limit = values["forward_budget"]
        return max(limit, least) if limit > 0 else unbounded


def new_curves() -> dict[str, list[float]]:
    return {name: [] for name in (*TERMS, "total")}


def prefix_masks(ranking: list[int] | torch.Tensor, lengths: list[int], m: int) -> torch.Tensor:
    """``(len(lengths), m)`` bool: row k keeps the first ``lengths[k]`` regions of ``ranking``."""
    rank_of = torch.empty(m, dtype=torch.long)
    rank_of[torch.as_tensor(list(ranking), dtype=torch.long)] = torch.arange(m)
    return rank_of[None, :] < torch.as_tensor(lengths, dtype=torch.long)[:, None]


def complete_selection(objective: Objective, ranking: list[int], known: dict[int, dict[str, float]]) -> Selection:
    """The :class:`Selection` of ``ranking`` with curves of length m, each point the real score of that prefix.

    ``known[j]`` holds the terms of the first j ranked regions when the search already scored that prefix;
    every other prefix is scored here in one batch (2 forwards each, counted like any other).
    """
    m = objective.num_regions
    if sorted(ranking) != list(range(m)):
        raise ValueError(f"selector returned {ranking}, not a permutation of {m} regions")
    missing = [j for j in range(1, m + 1) if j not in known]
    if missing:
        scores = objective.score(prefix_masks(ranking, missing, m))
        for row, j in enumerate(missing):
            known[j] = scores.at(row)
    curves = new_curves()
    for j in range(1, m + 1):
        for name in curves:
            curves[name].append(known[j][name])
    return Selection(list(ranking), curves)


def extended_subsets(chosen: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """``(len(candidates), m)`` bool: row k is ``chosen`` ``(m,)`` plus region ``candidates[k]``."""
    subsets = chosen.repeat(len(candidates), 1)
    subsets[torch.arange(len(candidates)), candidates] = True
    return subsets


def singleton_scores(objective: Objective) -> TermScores:
    """F({c}) for every region c, reusing the objective's single-region forwards when it made them (m
    forwards instead of 2m)."""
    m = objective.num_regions
    singletons = torch.eye(m, dtype=torch.bool)
    cached = getattr(objective, "singleton_probs", None)
    if cached is not None:
        return objective.score(singletons, kept_probs=cached)
    return objective.score(singletons)


def progress_steps(steps: range, desc: str, show: bool):
    """``steps``, wrapped in a progress bar (unit: region; plain lines in redirected logs) when ``show``."""
    if not show:
        return steps
    from common.progress import progress_bar

    return progress_bar(steps, desc=desc, unit="region", leave=False)
