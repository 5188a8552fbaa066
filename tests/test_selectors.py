"""Every selector: a permutation with real prefix-score curves; exact selectors equal plain greedy on a modular
objective; seeds and batch sizes; the bidirectional forward count; the LiMA preset; logits features."""

import numpy as np
import pytest
import torch

from models.base import BlackBox
from submodular_attribution import Lambdas, SubmodularObjective
from submodular_attribution.objective import TermScores, angular_distances
from submodular_attribution.regions import divide
from submodular_attribution.selection import SELECTORS, get_selector
from submodular_attribution.selection.base import prefix_masks
from submodular_attribution.selection.bidirectional import bidirectional_forward_count
from tests.conftest import toy_classifier

# options that make each selector exercise its interesting path on 9-16 regions
OPTIONS = {"pending_samples": 3, "forward_budget": 60, "lazy_batch": 2, "head_steps": 1, "sample_size": 3, "seed": 1,
           "window": 3}
LAMBDAS = {"smdl": Lambdas(0.3, 0.05, 1.0, 1.0), "lima": Lambdas(0.01, 0.0, 20.0, 5.0)}


def make(name, **options):
    """``get_selector(name)`` with the ``options`` it declares (a selector refuses the others)."""
    declared = {option.name for option in SELECTORS[name].options}
    return get_selector(name, **{key: value for key, value in options.items() if key in declared})


def toy_objective(blackbox, lambdas, grid=3, seed=0, features="penultimate"):
    rng = np.random.default_rng(seed)
    image = torch.from_numpy(rng.random((3, 16, 16)).astype(np.float32))
    labels = torch.from_numpy(divide(np.zeros((16, 16, 3), np.uint8), "grid", grid_size=grid))
    return SubmodularObjective(blackbox, image, labels, 2, lambdas, effectiveness_features=features)


class ModularObjective:
    """F(S) = cons(S) + colla(S) with cons(S) = w(S), colla(S) = 1 - w(V ∖ S) = w(S): modular, so plain greedy
    ranks by weight; shaped like SubmodularObjective (lambdas, complement_confidence) for bidirectional."""

    lambdas = Lambdas(0.0, 0.0, 1.0, 1.0)
    distances = None

    def __init__(self, weights):
        self.weights = torch.as_tensor(weights, dtype=torch.float64)
        self.num_regions = len(weights)

    def score(self, subsets, kept_probs=None):
        kept = (subsets.double() * self.weights).sum(dim=1)
        zeros = torch.zeros_like(kept)
        return TermScores(zeros, zeros, kept, kept, 2 * kept, zeros)


@pytest.mark.parametrize("weighting", list(LAMBDAS))
@pytest.mark.parametrize("name", sorted(SELECTORS))
def test_permutation_and_every_curve_point_is_the_prefix_score(toy_blackbox, name, weighting):
    objective = toy_objective(toy_blackbox, LAMBDAS[weighting], grid=4)
    selection = make(name, **OPTIONS).select(objective)
    m = objective.num_regions
    assert sorted(selection.ranking) == list(range(m))
    fresh = objective.score(prefix_masks(selection.ranking, list(range(1, m + 1)), m))
    for term in ("confidence", "effectiveness", "consistency", "collaboration", "total"):
        assert len(selection.curves[term]) == m
        np.testing.assert_allclose(selection.curves[term], getattr(fresh, term).double().numpy(), atol=2e-5, err_msg=term)


@pytest.mark.parametrize("name", sorted(n for n, cls in SELECTORS.items() if cls.exact))
@pytest.mark.parametrize("seed", range(3))
def test_exact_selectors_return_greedys_order_on_a_modular_objective(name, seed):
    weights = np.random.default_rng(seed).random(11)
    weights[3] = weights[7]  # a tie: the lower index first
    expected = get_selector("greedy").select(ModularObjective(weights)).ranking
    assert expected == list(np.argsort(-weights, kind="stable"))
    for options in ({}, {"pending_samples": 2, "lazy_batch": 1, "head_steps": 2, "window": 2}):
        assert make(name, **options).select(ModularObjective(weights)).ranking == expected


@pytest.mark.parametrize("name", sorted(n for n, cls in SELECTORS.items() if cls.stochastic))
def test_same_seed_same_order(toy_blackbox, name):
    rankings = [make(name, **{**OPTIONS, "forward_budget": 0, "seed": s}).select(toy_objective(toy_blackbox, LAMBDAS["lima"], 4)).ranking
                for s in (5, 5, 6)]
    assert rankings[0] == rankings[1]
    assert rankings[0] != rankings[2]


@pytest.mark.parametrize("name", sorted(SELECTORS))
def test_results_do_not_depend_on_the_batch_size(name):
    results = []
    for batch_size in (1, 7):
        blackbox = BlackBox(toy_classifier(), batch_size=batch_size)
        results.append(make(name, **OPTIONS).select(toy_objective(blackbox, LAMBDAS["smdl"], 3, seed=4)))
    assert results[0].ranking == results[1].ranking
    np.testing.assert_allclose(results[0].curves["total"], results[1].curves["total"], atol=1e-5)


def explain(blackbox, selector, grid=3, lambdas=LAMBDAS["lima"], seed=0, **options):
    """An :class:`Explanation` of a random 16 x 16 image on a grid division through the explainer."""
    from submodular_attribution import SubmodularExplainer

    image = (np.random.default_rng(seed).random((16, 16, 3)) * 255).astype(np.uint8)
    explainer = SubmodularExplainer(blackbox, "grid", {"grid_size": grid}, lambdas, selector=selector, selector_options=options)
    return explainer.explain(image, 2)


@pytest.mark.parametrize("grid,pending,weighting", [(3, 1, "lima"), (3, 4, "lima"), (4, 3, "lima"), (4, 8, "lima"),
                                                    (4, 20, "lima"), (4, 3, "smdl")])
def test_bidirectional_forward_count_equals_the_formula(toy_blackbox, grid, pending, weighting):
    """The json's ``forward_passes`` (every forward of the explanation) is the formula's count; the smdl weighting
    has the m setup forwards (its screening proxy differs from F, the formula still holds on this image)."""
    explanation = explain(toy_blackbox, "bidirectional", grid, LAMBDAS[weighting], pending_samples=pending)
    setup = grid * grid if weighting == "smdl" else 0
    assert explanation.forward_passes == bidirectional_forward_count(grid * grid, pending, setup)


def test_bidirectional_formula_matches_the_spec_example():
    """specs/smdl.md §3.2: m = 49, P = 8: 1218 + 2·8·21 (two-sided) + 54 (one-sided) + 2 (full, empty), + 1 for the
    source image as the README's column (1611)."""
    assert bidirectional_forward_count(49, 8) == 1218 + 336 + 54 + 2 + 1 == 1611
    assert bidirectional_forward_count(49, 8, setup_forwards=49) == 1611 + 49


@pytest.mark.parametrize("budget", [90, 120, 150])
@pytest.mark.parametrize("name", ["lazy", "window", "stochastic", "coarse", "surrogate", "onesided"])
def test_budget_bounds_every_forward_of_the_explanation(toy_blackbox, name, budget):
    """``forward_passes`` (source image, setup, search, curves) <= the budget, when the budget covers the least a
    selector needs; and at most 2 below it for the selectors that spend by the step (the budget is used)."""
    cls = SELECTORS[name]
    options = {k: v for k, v in dict(lazy_batch=4, window=6, groups=3, forward_budget=budget).items()
               if k in {o.name for o in cls.options}}
    explanation = explain(toy_blackbox, name, grid=4, lambdas=LAMBDAS["smdl"], **options)
    assert explanation.forward_passes <= budget
    if name in ("window", "onesided", "stochastic"):  # exact count without a budget: the budget is used up to it
        unbudgeted = cls.expected_forwards(16, cls(**{**options, "forward_budget": 0}).values, 16)
        assert explanation.forward_passes >= min(budget, unbudgeted) - 2


@pytest.mark.parametrize("name", ["lazy", "window", "stochastic", "coarse", "surrogate", "onesided"])
def test_budgeted_selectors_stay_within_their_budget(toy_blackbox, name):
    objective = toy_objective(toy_blackbox, LAMBDAS["smdl"], grid=4)  # m = 16, setup 16 forwards
    before = toy_blackbox.forward_count
    make(name, lazy_batch=4, window=6, groups=3, forward_budget=90).select(objective)
    assert objective.setup_forwards + toy_blackbox.forward_count - before <= 90


def test_logits_effectiveness_features_are_the_output_vector(toy_blackbox):
    objective = toy_objective(toy_blackbox, LAMBDAS["smdl"], grid=3, features="logits")
    singles = torch.stack([objective.image * (objective.labels == i) for i in range(9)])
    with torch.no_grad():
        logits = toy_blackbox.classifier(singles)
    torch.testing.assert_close(objective.distances, angular_distances(logits), atol=1e-5, rtol=0)
    penultimate = toy_objective(toy_blackbox, LAMBDAS["smdl"], grid=3, features="penultimate")
    assert not torch.allclose(objective.distances, penultimate.distances)


def test_lima_preset_defaults_and_folder():
    from submodular_attribution.driver import build_parser, run_folder_name
    PRESET = "lima_explanation_imagenet_superpixel"

    args = build_parser(PRESET).parse_args([])
    assert (args.lambda1, args.lambda2, args.lambda3, args.lambda4) == (0.01, 0.0, 20.0, 5.0)
    assert (args.selector, args.pending_samples) == ("bidirectional", 12)
    assert run_folder_name(args) == "slico-0.01-0.0-20.0-5.0-bidirectional-pending-samples-12"


def test_amp_and_compile_are_cuda_only_and_say_so(toy_blackbox):
    notes = toy_blackbox.enable_fast_paths("bf16", compile=True)
    assert len(notes) == 2 and all("CUDA only" in note for note in notes)
    assert toy_blackbox.amp is None and toy_blackbox._compiled is None


def test_window_log_prior_ranks_every_region_with_real_curves(toy_blackbox):
    objective = toy_objective(toy_blackbox, LAMBDAS["lima"], grid=3)
    selection = get_selector("window", window=2, prior="log").select(objective)
    fresh = objective.score(prefix_masks(selection.ranking, list(range(1, 10)), 9))
    assert sorted(selection.ranking) == list(range(9))
    np.testing.assert_allclose(selection.curves["total"], fresh.total.double().numpy(), atol=2e-5)


class AdditiveLogOddsObjective(ModularObjective):
    """p_t(x_S) = sigmoid(b + Σ_{i∈S} w_i): the surrogate's model holds exactly."""

    def score(self, subsets, kept_probs=None):
        def prob(masks):
            return torch.sigmoid(-4.0 + (masks.double() * self.weights).sum(dim=1))

        kept, collaboration = prob(subsets), 1.0 - prob(~subsets)
        zeros = torch.zeros_like(kept)
        return TermScores(zeros, zeros, kept, collaboration, kept + collaboration, zeros)


@pytest.mark.parametrize("seed", range(3))
def test_surrogate_recovers_the_order_of_an_additive_log_odds_model(seed):
    weights = np.random.default_rng(seed).permutation(np.linspace(-2.0, 3.0, 12))
    selection = get_selector("surrogate", forward_budget=0, alpha=1e-6, seed=seed).select(AdditiveLogOddsObjective(weights))
    assert selection.ranking == list(np.argsort(-weights))


def test_coarse_ranks_groups_then_regions_on_a_modular_objective():
    """Without a label map the groups are consecutive indices; greedy over groups takes the heaviest group, and the
    refinement (no budget) orders each group by weight."""
    weights = np.array([0.1, 0.9, 0.2, 0.5, 0.4, 0.3, 0.8, 0.05, 0.6])  # groups 0-2 (1.2), 3-5 (1.2), 6-8 (1.45)
    weights[3] = 0.55  # group 3-5 sums to 1.25 > 1.2
    ranking = get_selector("coarse", groups=3, forward_budget=0).select(ModularObjective(weights)).ranking
    assert ranking == [6, 8, 7, 3, 4, 5, 1, 2, 0]


def test_spatial_groups_partition_the_regions_into_compact_groups():
    from submodular_attribution.selection.coarse import region_centroids, spatial_groups

    labels = torch.from_numpy(divide(np.zeros((32, 32, 3), np.uint8), "grid", grid_size=4))  # 16 regions, 8x8 px
    centroids, area = region_centroids(labels, 16)
    assert torch.equal(area, torch.full((16,), 64.0, dtype=torch.float64))
    groups = spatial_groups(centroids, 4)
    assert sorted(r for g in groups for r in g) == list(range(16))
    assert groups == spatial_groups(centroids, 4)
    for members in groups:  # 4 groups of a 4x4 grid: every group fits in a 2x2 block of cells
        spread = centroids[members].max(dim=0).values - centroids[members].min(dim=0).values
        assert (spread <= 8.0 + 1e-9).all(), members


@pytest.mark.parametrize("inner", ["greedy", "window"])
def test_coarse_curves_are_real_and_within_budget(toy_blackbox, inner):
    objective = toy_objective(toy_blackbox, LAMBDAS["smdl"], grid=4)  # m = 16, setup 16 forwards
    before = toy_blackbox.forward_count
    selection = get_selector("coarse", groups=4, forward_budget=90, inner=inner, window=3).select(objective)
    assert objective.setup_forwards + toy_blackbox.forward_count - before <= 90
    fresh = objective.score(prefix_masks(selection.ranking, list(range(1, 17)), 16))
    np.testing.assert_allclose(selection.curves["total"], fresh.total.double().numpy(), atol=2e-5)


class CountingLogOddsObjective(AdditiveLogOddsObjective):
    """The additive log-odds model with the one-image API of SubmodularObjective (target 0 of 2 classes) and a
    forward counter."""

    target = 0

    def __init__(self, weights):
        super().__init__(weights)
        self.forwards = 0

    def kept_probabilities(self, subsets):
        self.forwards += len(subsets)
        p = torch.sigmoid(-4.0 + (subsets.double() * self.weights).sum(dim=1))
        return torch.stack([p, 1.0 - p], dim=1)

    def score(self, subsets, kept_probs=None, complement_probs=None):
        self.forwards += len(subsets) * ((kept_probs is None) + (complement_probs is None))
        return super().score(subsets)


@pytest.mark.parametrize("window,switch", [(20, 0.05), (20, 1.0), (3, 0.05)])
def test_onesided_follows_the_weights_and_counts_its_forwards(window, switch):
    """On an additive log-odds model the lowest p(V ∖ (S ∪ c)) and the highest p(S ∪ c) are both the heaviest
    remaining region, so any window over the leave-one-out order (which is the weight order) ranks by weight.
    Forwards: m leave-one-out images, then w_j + 1 per step with w_j > 1, 2 per step with w_j = 1."""
    weights = np.random.default_rng(3).permutation(np.linspace(-1.0, 2.0, 10))
    objective = CountingLogOddsObjective(weights)
    selection = get_selector("onesided", window=window, switch_probability=switch, forward_budget=0).select(objective)
    assert selection.ranking == list(np.argsort(-weights))
    widths = [min(window, 10 - j) for j in range(10)]
    assert objective.forwards == 10 + sum(w + 1 if w > 1 else 2 for w in widths)
    fresh = objective.score(prefix_masks(selection.ranking, list(range(1, 11)), 10))
    np.testing.assert_allclose(selection.curves["total"], fresh.total.numpy(), atol=1e-12)


def test_onesided_compares_on_the_complement_until_the_switch():
    """Region 0 alone makes the class (kept side wins it) but removing it barely matters; regions 1, 2 matter
    only together. Below the switch the complement side picks 1 or 2 first; with switch 0 the kept side picks 0."""

    class Interacting(CountingLogOddsObjective):
        def kept_probabilities(self, subsets):
            self.forwards += len(subsets)
            s = subsets.double()
            p = 0.9 * s[:, 0] * (s.sum(dim=1) == 1) + 0.8 * s[:, 1] * s[:, 2] + 0.01
            return torch.stack([p.clamp(max=0.99), 1.0 - p.clamp(max=0.99)], dim=1)

        def score(self, subsets, kept_probs=None, complement_probs=None):
            kept = self.kept_probabilities(subsets)[:, 0]
            collaboration = 1.0 - self.kept_probabilities(~subsets)[:, 0]
            zeros = torch.zeros_like(kept)
            return TermScores(zeros, zeros, kept, collaboration, kept + collaboration, zeros)

    objective = Interacting(np.zeros(5))
    deletion_first = get_selector("onesided", window=5, switch_probability=0.5, forward_budget=0).select(objective)
    insertion_first = get_selector("onesided", window=5, switch_probability=0.0, forward_budget=0).select(objective)
    assert deletion_first.ranking[0] in (1, 2)
    assert insertion_first.ranking[0] == 0


@pytest.mark.parametrize("order", ["groups", "mixed"])
def test_onesided_group_orders_have_real_curves_within_budget(toy_blackbox, order):
    objective = toy_objective(toy_blackbox, LAMBDAS["lima"], grid=4)  # m = 16, no setup
    before = toy_blackbox.forward_count
    selection = get_selector("onesided", order=order, groups=4, window=4, forward_budget=70).select(objective)
    assert toy_blackbox.forward_count - before <= 70
    assert sorted(selection.ranking) == list(range(16))
    fresh = objective.score(prefix_masks(selection.ranking, list(range(1, 17)), 16))
    np.testing.assert_allclose(selection.curves["total"], fresh.total.double().numpy(), atol=2e-5)


def test_new_selectors_folders_carry_their_options():
    from submodular_attribution.driver import build_parser, run_folder_name
    PRESET = "smdl_explanation_imagenet_superpixel"

    def folder(*flags):
        return run_folder_name(build_parser(PRESET).parse_args(list(flags)))

    assert folder("--selector", "coarse", "--forward-budget", "245").endswith("-coarse-groups-10-greedy-budget-245")
    assert folder("--selector", "coarse", "--inner", "window", "--window", "4", "--forward-budget", "0") \
        .endswith("-coarse-groups-10-window-4")
    # coarse, onesided and surrogate default to budget 245 on the command line as in Python (before: 0 on the CLI)
    assert folder("--selector", "coarse").endswith("-coarse-groups-10-greedy-budget-245")
    assert folder("--selector", "onesided").endswith("-onesided-8-leave-one-out-switch-0.05-budget-245")
    assert folder("--selector", "onesided", "--order", "mixed", "--groups", "6", "--switch-probability", "0.2",
                  "--forward-budget", "0").endswith("-onesided-8-mixed-6-switch-0.2")
    assert folder("--selector", "surrogate", "--seed", "3").endswith("-surrogate-seed-3-budget-245")
    assert folder("--selector", "surrogate", "--seed", "3", "--alpha", "2").endswith("-surrogate-seed-3-budget-245-alpha-2")
    assert folder("--selector", "stochastic", "--max-sample-size", "5").endswith("-stochastic-sample-2-seed-0-max-sample-5")
