"""The one forward-budget account of the selectors (:class:`~submodular_attribution.selection.base.ForwardBudget`):
its arithmetic, and that every budgeted selector charges it exactly the forwards its search made (counted by the
black box), so the sizes it asks for are decided on the real cost."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from submodular_attribution import Lambdas, SubmodularObjective
from submodular_attribution.regions import divide
from submodular_attribution.selection import SELECTORS, base, get_selector
from submodular_attribution.selection.base import ForwardBudget

BUDGETED = sorted(name for name, cls in SELECTORS.items() if "forward_budget" in {o.name for o in cls.options})


def test_the_budgeted_selectors_are_the_expected_ones():
    """The account below is checked on every selector that declares ``forward_budget``."""
    assert set(BUDGETED) == {"coarse", "lazy", "onesided", "stochastic", "surrogate", "window"}


def test_share_without_a_budget_is_the_unbounded_size():
    budget = ForwardBudget(0, spent=10_000)
    assert not budget.bounded
    assert budget.share(8) == 8
    assert budget.share(8, unbounded=2) == 2
    assert budget.fits(10**9, reserve=10**9)


@pytest.mark.parametrize("spent,reserve,per_item,expected", [
    (0, 0, 2, 8),       # 50 // 2 = 25 items fit: capped at most = 8
    (30, 10, 2, 5),     # (50 - 30 - 10) // 2 = 5
    (30, 10, 1, 8),     # 10 forwards of 1 each: capped at 8
    (45, 4, 2, 1),      # 1 // 2 = 0: raised to least = 1
    (60, 0, 2, 1),      # over the budget: least
])
def test_share_leaves_the_reserve_and_clamps(spent, reserve, per_item, expected):
    assert ForwardBudget(50, spent).share(8, per_item=per_item, reserve=reserve) == expected


def test_share_without_upper_bound_and_with_zero_least():
    assert ForwardBudget(100, 20).share(None, per_item=2, reserve=30, least=0) == 25
    assert ForwardBudget(100, 90).share(None, per_item=2, reserve=30, least=0) == 0
    assert ForwardBudget(100, 90).share(4, per_item=2, reserve=30, least=0) == 0


def test_fits_and_charge():
    budget = ForwardBudget(40, 10)
    assert budget.fits(20, reserve=10) and not budget.fits(21, reserve=10)
    budget.charge(21)
    assert budget.spent == 31 and budget.left() == 9 and budget.left(reserve=10) == -1


def test_expected_is_the_budget_or_the_floor_or_the_unbounded_count():
    assert ForwardBudget.expected({"forward_budget": 100}, least=60, unbounded=500) == 100
    assert ForwardBudget.expected({"forward_budget": 40}, least=60, unbounded=500) == 60
    assert ForwardBudget.expected({"forward_budget": 0}, least=60, unbounded=500) == 500


def toy_objective(blackbox, lambdas: Lambdas, grid: int = 4) -> SubmodularObjective:
    rng = np.random.default_rng(grid)
    image = torch.from_numpy(rng.random((3, 16, 16)).astype(np.float32))
    labels = torch.from_numpy(divide(np.zeros((16, 16, 3), np.uint8), "grid", grid_size=grid))
    return SubmodularObjective(blackbox, image, labels, 2, lambdas, source_forwards=1)


@pytest.mark.parametrize("lambdas", [Lambdas(0.3, 0.05, 1.0, 1.0), Lambdas(0.01, 0.0, 20.0, 5.0)], ids=["smdl", "lima"])
def test_start_charges_the_source_and_setup_and_singletons_their_cost(toy_blackbox, lambdas):
    objective = toy_objective(toy_blackbox, lambdas)
    m = objective.num_regions
    budget = ForwardBudget.start(objective, 100)
    assert budget.spent == 1 + (m if lambdas.effectiveness else 0)
    before = toy_blackbox.forward_count
    budget.singleton_scores(objective)
    assert budget.spent - (1 + objective.setup_forwards) == toy_blackbox.forward_count - before


@pytest.mark.parametrize("options", [{"forward_budget": 0}, {"forward_budget": 40}, {"forward_budget": 90},
                                     {"forward_budget": 90, "order": "mixed", "groups": 3, "inner": "window"}],
                         ids=["none", "40", "90", "90-groups"])
@pytest.mark.parametrize("name", BUDGETED)
def test_the_account_equals_the_forwards_the_search_made(toy_blackbox, monkeypatch, name, options):
    """At the end of the search (when the unscored prefixes are completed) the budget has been charged exactly
    the black box's forwards since the objective was built: a charge left out or doubled would let a selector
    overspend or stop early."""
    objective = toy_objective(toy_blackbox, Lambdas(0.3, 0.05, 1.0, 1.0))
    after_setup = toy_blackbox.forward_count
    budgets: list[ForwardBudget] = []
    search_forwards: list[int] = []
    start_budget, complete = base.Selector.start_budget, base.complete_selection

    def spy_start(self, objective):
        budgets.append(start_budget(self, objective))
        return budgets[-1]

    def spy_complete(objective, ranking, known):
        search_forwards.append(toy_blackbox.forward_count - after_setup)
        return complete(objective, ranking, known)

    monkeypatch.setattr(base.Selector, "start_budget", spy_start)
    monkeypatch.setattr(base, "complete_selection", spy_complete)
    declared = {o.name for o in SELECTORS[name].options}
    selector = get_selector(name, **{k: v for k, v in options.items() if k in declared})
    selection = selector.select(objective)
    assert sorted(selection.ranking) == list(range(objective.num_regions))
    assert len(budgets) == 1 and len(search_forwards) == 1
    assert budgets[0].spent - base.forwards_spent(objective) == search_forwards[0] > 0
