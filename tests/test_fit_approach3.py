"""Approach 3 (parametric L(N, D)): Chinchilla replication, the mean trap, recovery, closed form."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flops_fit.fitting import FitOptions, fit_runs
from flops_fit.fitting import approach3 as a3
from flops_fit.fitting.synthetic import CHINCHILLA, isoflop_study, law

DATA = Path(__file__).parent / "data" / "chinchilla_svg_extracted.csv"


def chinchilla_points():
    """Epoch AI's extraction of Chinchilla's Figure 4, 5 highest-loss points dropped (240 left)."""
    df = pd.read_csv(DATA).sort_values("loss").iloc[:-5]
    n = df["Model Size"].to_numpy()
    d = df["Training FLOP"].to_numpy() / (6 * n)
    return np.log(n), np.log(d), np.log(df["loss"].to_numpy())


@pytest.fixture(scope="module")
def chinchilla():
    return chinchilla_points()


def test_chinchilla_replication(chinchilla):
    """Besiroglu et al. 2024: E 1.8172, alpha 0.3473, beta 0.3672 (0.5%), A 477.8, B 2143 (3%)."""
    assert len(chinchilla[0]) == 240
    theta, _ = a3.minimise(*chinchilla)
    p = a3.params_from_theta(theta)
    for name, ref in {"E": 1.8172, "alpha": 0.3473, "beta": 0.3672}.items():
        assert p[name] == pytest.approx(ref, rel=0.005), name
    for name, ref in {"A": 477.8, "B": 2143.0}.items():
        assert p[name] == pytest.approx(ref, rel=0.03), name


def test_chinchilla_through_public_api(tmp_path):
    df = pd.read_csv(DATA).sort_values("loss").iloc[:-5]
    runs = pd.DataFrame(
        {
            "params": df["Model Size"],
            "tokens": df["Training FLOP"] / (6 * df["Model Size"]),
            "loss": df["loss"],
        }
    )
    res = fit_runs(runs, None, FitOptions(approaches=(3,), bootstrap=20, backtest_holdout=0))
    p = res["approaches"]["approach3"]["params"]
    assert p["alpha"] == pytest.approx(0.3473, rel=0.005)
    assert p["E"] == pytest.approx(1.8172, rel=0.005)
    lo, hi = res["approaches"]["approach3"]["intervals"]["alpha"]
    assert lo < p["alpha"] < hi


def test_mean_reduction_stops_early_sum_does_not(chinchilla):
    """The published trap: with scipy's default L-BFGS-B tolerances, the *mean* Huber loss has
    gradients 240x smaller, so L-BFGS stops early at a worse fit; the *sum* reaches Epoch's fit."""
    defaults = {}  # scipy's defaults, as in the notebooks where the trap was found
    th_mean, _ = a3.minimise(*chinchilla, n_starts=64, reduce="mean", options=defaults)
    th_sum, _ = a3.minimise(*chinchilla, n_starts=64, reduce="sum", options=defaults)
    f_mean = a3.objective(th_mean, *chinchilla)[0]
    f_sum = a3.objective(th_sum, *chinchilla)[0]
    assert f_mean > 1.1 * f_sum  # a clearly worse fit of the same (summed) objective
    p_mean, p_sum = a3.params_from_theta(th_mean), a3.params_from_theta(th_sum)
    assert abs(p_sum["alpha"] / 0.3473 - 1) < 0.005
    assert abs(p_mean["alpha"] / 0.3473 - 1) > 0.02 or abs(p_mean["beta"] / 0.3672 - 1) > 0.02
    # and from one start the mean run takes fewer iterations before stopping
    start = np.array([5.0, 5.0, 0.0, 0.5, 0.5])
    r_mean = a3._lbfgs(start, *chinchilla, 1e-3, "mean", defaults)
    r_sum = a3._lbfgs(start, *chinchilla, 1e-3, "sum", defaults)
    assert r_mean.nit < r_sum.nit


def test_closed_form_chinchilla_published():
    """Hoffmann et al. 2022 App. D.3: with their parameters, N*(5.76e23) ~ 4.04e10 (Gopher's budget)."""
    p = law(**CHINCHILLA)
    n, d, loss = a3.optimal(p, [5.76e23])
    assert n[0] == pytest.approx(4.04e10, rel=0.01)
    assert n[0] * d[0] * 6 == pytest.approx(5.76e23, rel=1e-9)
    assert p["a"] == pytest.approx(0.2849083 / (0.33917084 + 0.2849083))


def test_gradient_matches_finite_differences(chinchilla):
    theta = np.array([6.2, 7.7, 0.6, 0.35, 0.37])
    f, g = a3.objective(theta, *chinchilla)
    eps = 1e-7
    num = [(a3.objective(theta + eps * e, *chinchilla)[0] - f) / eps for e in np.eye(5)]
    np.testing.assert_allclose(g, num, rtol=1e-3, atol=1e-7)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recovers_known_law(seed):
    """alpha, beta in [0.25, 0.45], E in [1.5, 2.5], A, B in [100, 2000]; 7 budgets x 9 sizes,
    0.5% multiplicative noise: alpha, beta within 3%, a within 0.02 (Approaches 2 and 3)."""
    rng = np.random.default_rng(seed)
    p = {
        "alpha": rng.uniform(0.25, 0.45),
        "beta": rng.uniform(0.25, 0.45),
        "E": rng.uniform(1.5, 2.5),
        "A": rng.uniform(100, 2000),
        "B": rng.uniform(100, 2000),
    }
    truth = law(**p)
    runs, _ = isoflop_study(p, np.geomspace(1e17, 1e23, 7), sizes=9, span=1.2, noise=0.005, seed=seed)
    res = fit_runs(runs, None, FitOptions(approaches=(2, 3), bootstrap=0, backtest_holdout=0))
    fit3 = res["approaches"]["approach3"]["params"]
    assert fit3["alpha"] == pytest.approx(p["alpha"], rel=0.03)
    assert fit3["beta"] == pytest.approx(p["beta"], rel=0.03)
    assert fit3["a"] == pytest.approx(truth["a"], abs=0.02)
    assert res["approaches"]["approach2"]["params"]["a"] == pytest.approx(truth["a"], abs=0.02)


@pytest.mark.filterwarnings("ignore:divide by zero")  # log E of the law with E = 0
def test_warns_when_e_runs_to_its_bound():
    """Noiseless losses with no irreducible term (E = 0) drive E to its bound: the fit says so, since
    L* then falls as a pure power law beyond the data; a law with E = 1.8 gets no such warning."""
    warned = {}
    for e in (0.0, 1.8):
        p = {"E": e, "A": 400.0, "B": 1500.0, "alpha": 0.34, "beta": 0.3}
        runs, _ = isoflop_study(p, np.geomspace(1e17, 1e20, 5), noise=0.0)
        res = fit_runs(runs, None, FitOptions(approaches=(3,), bootstrap=0, backtest_holdout=0))
        block = res["approaches"]["approach3"]
        warned[e] = [w for w in block["warnings"] if "at its bound 0" in w]
        assert (block["params"]["E"] < 1e-6) == (e == 0.0)
    assert len(warned[0.0]) == 1 and warned[1.8] == []


def test_grid_is_chinchillas():
    grid = a3.chinchilla_grid()
    assert grid.shape == (4500, 5)
    assert sorted(set(grid[:, 3])) == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert sorted(set(grid[:, 0])) == [0.0, 5.0, 10.0, 15.0, 20.0, 25.0]
    assert sorted(set(grid[:, 2])) == [-1.0, -0.5, 0.0, 0.5, 1.0]


def synthetic_rows(rows, seed=0, noise=0.01, p=CHINCHILLA):
    """``rows`` runs at log-uniform N in [1e7, 1e10], D in [1e9, 1e12], loss from ``p`` with noise."""
    rng = np.random.default_rng(seed)
    log_n = rng.uniform(np.log(1e7), np.log(1e10), rows)
    log_d = rng.uniform(np.log(1e9), np.log(1e12), rows)
    loss = a3.loss(law(**p), np.exp(log_n), np.exp(log_d)) * (1 + noise * rng.standard_normal(rows))
    return log_n, log_d, np.log(loss)


def test_grid_evaluation_in_blocks_is_exact_and_small(chinchilla):
    """Blocks of starts give the same values as one matrix, and memory stays O(block) not O(starts x rows)."""
    import tracemalloc

    grid = a3.chinchilla_grid()
    whole = a3.objective_batch(grid, *chinchilla, block_elements=len(grid) * 240)
    blocks = a3.objective_batch(grid, *chinchilla, block_elements=1000)  # 4 starts per block
    np.testing.assert_array_equal(blocks, whole)

    data = synthetic_rows(5_000)
    tracemalloc.start()
    a3.objective_batch(grid, *data, block_elements=1 << 14)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20 * (1 << 14) * 8  # a few block-sized temporaries; one 4,500 x 5k matrix is 180 MB


def test_objective_memory_is_linear_in_rows():
    """The objective and gradient inside L-BFGS allocate a handful of row-length arrays."""
    import tracemalloc

    data = synthetic_rows(50_000)
    theta = np.array([6.0, 6.0, 0.5, 0.34, 0.28])
    tracemalloc.start()
    a3.objective(theta, *data)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 16 * 50_000 * 8


def test_screened_search_matches_full_search():
    """More runs than ``screen``: the grid search on a seeded subsample, then L-BFGS on all runs,
    reaches the same optimum as the search on all runs."""
    data = synthetic_rows(1500, seed=3)
    th_full, f_full = a3.minimise(*data, n_starts=16, screen=None)
    th_screen, f_screen = a3.minimise(*data, n_starts=16, screen=200)
    assert f_screen == pytest.approx(f_full, rel=1e-9)
    np.testing.assert_allclose(th_screen, th_full, rtol=1e-5, atol=1e-6)
    truth = law(**CHINCHILLA)
    p = a3.params_from_theta(th_screen)
    assert p["alpha"] == pytest.approx(truth["alpha"], rel=0.03)
    assert p["beta"] == pytest.approx(truth["beta"], rel=0.03)
    assert list(a3.screen_rows(1500, 200, seed=0)) == list(a3.screen_rows(1500, 200, seed=0))
    assert len(set(a3.screen_rows(1500, 200))) == 200


BUDGETS = np.geomspace(1e15, 1e25, 11)


def test_optimal_counted_with_constant_kappa_is_the_closed_form():
    p = law(**CHINCHILLA)
    want = a3.optimal(p, BUDGETS / 1.64)
    for kn, k in (([1e8], [1.64]), ([1e6, 1e8, 1e8, 1e10], [1.64] * 4)):
        got = a3.optimal_counted(p, BUDGETS, kn, k)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-6)
    n, d, loss = a3.optimal_counted(p, 1e21, [1e8], [1.64])
    assert np.shape(n) == () and 1.64 * 6 * n * d == pytest.approx(1e21, rel=1e-12)


def test_optimal_counted_follows_each_sizes_kappa():
    """kappa falls with N (attention's share shrinks): 2.0 at 1e7, 1.6 at 1e8, 1.3 at 1e9.
    Beyond the observed sizes the answer is the closed form with the end factor; inside them
    N* exceeds both the median-kappa answer and the closed form at its own kappa(N*) (a model
    one step larger costs fewer FLOPs per token, so the optimum moves to larger N)."""
    p = law(**CHINCHILLA)
    kn, k = [1e7, 1e8, 1e9], [2.0, 1.6, 1.3]
    n, d, loss = a3.optimal_counted(p, BUDGETS, kn, k)
    kappa = a3.kappa_at(n, kn, k)
    np.testing.assert_allclose(kappa * 6 * n * d, BUDGETS, rtol=1e-12)
    np.testing.assert_allclose(loss, a3.loss(p, n, d), rtol=1e-12)
    median = a3.optimal(p, BUDGETS / 1.6)[0]
    below, inside, beyond = n < 1e7, (n > 1.1e7) & (n < 0.9e9), n > 1e9
    assert below.sum() >= 2 and inside.sum() >= 3 and beyond.sum() >= 3
    np.testing.assert_allclose(n[below], a3.optimal(p, BUDGETS[below] / 2.0)[0], rtol=1e-6)
    np.testing.assert_allclose(n[beyond], a3.optimal(p, BUDGETS[beyond] / 1.3)[0], rtol=1e-6)
    assert np.all(n[below] < median[below]) and np.all(n[~below] > median[~below])
    own = a3.optimal(p, BUDGETS[inside] / kappa[inside])[0]
    assert np.all(n[inside] > 1.05 * own)

    def counted_loss(m, c):  # the loss a size-m run reaches at counted budget c
        return a3.loss(p, m, c / (6 * m * a3.kappa_at(m, kn, k)))

    for step in (1 - 1e-3, 1 + 1e-3):
        assert np.all(counted_loss(n * step, BUDGETS) > loss)


def test_optimal_counted_rejects_mismatched_kappa():
    with pytest.raises(ValueError, match="kappa_n \\(2 values\\) and kappa \\(1 values\\)"):
        a3.optimal_counted(law(**CHINCHILLA), [1e20], [1e7, 1e8], [1.5])
