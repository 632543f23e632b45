"""BinomialMixture: the teaching example, the driver's rules, weights, input checks."""

import warnings

import numba
import numpy as np
import pytest
from scipy.stats import binom

import reference as ref
from conftest import RTOL, needs_jit
from fastem import BinomialMixture, ConvergenceWarning

HEADS = np.array([5, 9, 8, 4, 7])


def coins(**kw):
    base = dict(weights_init=[0.5, 0.5], probs_init=[0.6, 0.5], fit_weights=False)
    base.update(kw)
    return BinomialMixture(2, **base)


# ---------------------------------------------------------------- teaching example
def test_teaching_example_soft_trajectory(dtype):
    """Do & Batzoglou (2008): two coins, weights fixed at 1/2, start at 0.6 and 0.5."""
    # First E-step by hand with scipy.stats: responsibilities of coin A for each set.
    la = binom.pmf(HEADS, 10, 0.6)
    lb = binom.pmf(HEADS, 10, 0.5)
    ra = la / (la + lb)
    theta_a = np.sum(ra * HEADS) / np.sum(ra * 10)
    theta_b = np.sum((1 - ra) * HEADS) / np.sum((1 - ra) * 10)
    with pytest.warns(ConvergenceWarning):
        m1 = coins(max_iter=1, tol=0).fit(HEADS.astype(dtype), trials=10)
    np.testing.assert_allclose(m1.probs_.ravel(), [theta_a, theta_b], rtol=RTOL)
    assert m1.probs_.ravel() == pytest.approx([0.71, 0.58], abs=0.005)  # the paper's figures
    np.testing.assert_allclose(m1.lower_bound_, np.mean(np.log(0.5 * la + 0.5 * lb)), rtol=RTOL)

    with pytest.warns(ConvergenceWarning):
        m = coins(max_iter=10, tol=0).fit(HEADS.astype(dtype), trials=10)
    hist = ref.binomial_em(HEADS, 10, np.array([0.5, 0.5]), np.array([[0.6], [0.5]]), 10,
                           fit_weights=False)
    np.testing.assert_allclose(m.lower_bounds_, [h[2] for h in hist], rtol=RTOL)
    np.testing.assert_allclose(m.probs_, hist[-1][1], rtol=RTOL)
    assert m.probs_.ravel() == pytest.approx([0.80, 0.52], abs=0.005)  # the paper's figures
    np.testing.assert_array_equal(m.weights_, [0.5, 0.5])


def test_teaching_example_hard_em():
    # By hand: at (0.6, 0.5) sets with 9, 8, 7 heads are likelier under A, 5 and 4 under B,
    # so A = 24/30 and B = 9/20; at (0.8, 0.45) no assignment changes.
    m = coins(mode="hard").fit(HEADS, trials=10)
    np.testing.assert_allclose(m.probs_.ravel(), [24 / 30, 9 / 20], rtol=1e-15)
    assert m.converged_ and m.n_iter_ == 2
    np.testing.assert_array_equal(m.predict(HEADS, trials=10), [1, 0, 0, 1, 0])


# ---------------------------------------------------------------- driver rules
def test_soft_stops_on_tol_and_history_is_consistent():
    m = coins(tol=1e-3).fit(HEADS, trials=10)
    assert m.converged_
    lbs = np.array(m.lower_bounds_)
    assert len(lbs) == m.n_iter_ and lbs[-1] == m.lower_bound_
    assert abs(lbs[-1] - lbs[-2]) < 1e-3 and np.all(np.abs(np.diff(lbs[:-1])) >= 1e-3)


def test_convergence_warning_only_for_soft_and_hard():
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        coins(max_iter=2, tol=0).fit(HEADS, trials=10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = coins(mode="stochastic", max_iter=5, random_state=0).fit(HEADS, trials=10)
    assert not m.converged_ and m.n_iter_ == 5 and len(m.lower_bounds_) == 5


@pytest.mark.parametrize("mode", ["soft", "hard", "stochastic"])
def test_max_iter_zero_is_the_initialisation(mode):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ConvergenceWarning for max_iter=0
        m = coins(max_iter=0, mode=mode).fit(HEADS, trials=10)
    np.testing.assert_array_equal(m.probs_, [[0.6], [0.5]])
    np.testing.assert_array_equal(m.weights_, [0.5, 0.5])
    assert (m.n_iter_, m.converged_, m.lower_bound_, m.lower_bounds_) == (0, False, -np.inf, [])
    one = coins(max_iter=1, tol=0, mode=mode, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        one.fit(HEADS, trials=10)
    np.testing.assert_allclose(m.score(HEADS, trials=10), one.lower_bounds_[0], rtol=1e-12)


def test_stochastic_keeps_best_iterate():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.binomial(10, 0.3, 300), rng.binomial(10, 0.6, 300)])
    m = BinomialMixture(2, mode="stochastic", max_iter=15, random_state=1).fit(X, trials=10)
    assert m.lower_bound_ == max(m.lower_bounds_)
    np.testing.assert_allclose(m.score(X, trials=10), m.lower_bound_, rtol=1e-12)


def test_stochastic_reproducible_and_seed_dependent():
    rng = np.random.default_rng(1)
    X = np.concatenate([rng.binomial(20, 0.4, 200), rng.binomial(20, 0.55, 200)])
    fit = lambda rs: BinomialMixture(2, mode="stochastic", max_iter=8, random_state=rs).fit(X, trials=20)
    a, b, c = fit(3), fit(3), fit(4)
    assert a.lower_bounds_ == b.lower_bounds_ and np.array_equal(a.probs_, b.probs_)
    assert a.lower_bounds_ != c.lower_bounds_


def test_n_init_keeps_best_run(capsys):
    rng = np.random.default_rng(2)
    X = rng.binomial(1, [0.2, 0.8, 0.5], size=(400, 3))
    X[:200] = rng.binomial(1, [0.9, 0.1, 0.5], size=(200, 3))
    kw = dict(init_params="random_from_data", max_iter=30, tol=1e-6, verbose=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        one = BinomialMixture(3, n_init=1, random_state=0, **kw).fit(X)
        capsys.readouterr()
        many = BinomialMixture(3, n_init=5, random_state=0, **kw).fit(X)
    finals = [float(line.split("log-likelihood ")[1].split(",")[0])
              for line in capsys.readouterr().out.splitlines() if "converge" in line]
    assert len(finals) == 5 and len(set(finals)) > 1  # the restarts really differ
    assert many.lower_bound_ == pytest.approx(max(finals), rel=1e-7)
    # The first restart draws exactly what the single run drew.
    assert finals[0] == pytest.approx(one.lower_bound_, rel=1e-7)
    assert many.lower_bound_ >= one.lower_bound_


def test_warm_start_continues_from_previous_fit():
    with pytest.warns(ConvergenceWarning):
        m = coins(max_iter=3, tol=0, warm_start=True).fit(HEADS, trials=10)
        m.fit(HEADS, trials=10)
    with pytest.warns(ConvergenceWarning):
        cold = coins(max_iter=6, tol=0).fit(HEADS, trials=10)
    np.testing.assert_allclose(m.probs_, cold.probs_, rtol=1e-14)


def test_verbose_prints_each_iteration(capsys):
    coins(verbose=2, tol=1e-3).fit(HEADS, trials=10)
    out = capsys.readouterr().out
    assert "Initialization 0" in out and "Iteration 1\t" in out and "log-likelihood" in out
    coins(mode="hard", verbose=1).fit(HEADS, trials=10)
    assert "Iteration 2" in capsys.readouterr().out


def test_fit_predict_equals_fit_then_predict():
    rng = np.random.default_rng(3)
    X = rng.binomial(12, rng.choice([0.2, 0.5, 0.8], size=(300, 2)))
    for mode in ("soft", "hard", "stochastic"):
        a = BinomialMixture(3, mode=mode, random_state=0, max_iter=20).fit_predict(X, trials=12)
        b = BinomialMixture(3, mode=mode, random_state=0, max_iter=20).fit(X, trials=12).predict(X, trials=12)
        np.testing.assert_array_equal(a, b)


@needs_jit
def test_fit_bit_identical_with_one_and_two_threads():
    rng = np.random.default_rng(4)
    X = rng.binomial(10, rng.choice([0.3, 0.7], size=(30000, 2)))
    out = []
    for threads in (1, 2):
        numba.set_num_threads(threads)
        try:
            for mode in ("soft", "hard", "stochastic"):
                m = BinomialMixture(2, mode=mode, random_state=5, max_iter=10, tol=0)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    m.fit(X, trials=10)
                out.append((m.probs_, m.weights_, m.lower_bounds_))
        finally:
            numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    for a, b in zip(out[:3], out[3:]):
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]


# ---------------------------------------------------------------- model outputs
def test_scores_probabilities_and_criteria_match_reference(dtype):
    rng = np.random.default_rng(5)
    X = rng.binomial(8, rng.choice([0.25, 0.75], size=(200, 3))).astype(dtype)
    T = rng.integers(8, 12, size=(200, 1))
    X = np.minimum(X, T).astype(dtype)
    m = BinomialMixture(2, random_state=0, tol=1e-8, max_iter=200).fit(X, trials=T)
    want = ref.binomial_em_step(X, T, m.weights_, m.probs_, "soft")
    np.testing.assert_allclose(m.score_samples(X, trials=T), want["log_resp_norm"], rtol=RTOL)
    np.testing.assert_allclose(m.predict_proba(X, trials=T), want["resp"], rtol=RTOL, atol=1e-300)
    np.testing.assert_array_equal(m.predict(X, trials=T), want["labels"])
    ll = want["loglik"]
    assert m.score(X, trials=T) == pytest.approx(ll / 200, rel=RTOL)
    p = 2 * 3 + 1
    assert m.bic(X, trials=T) == pytest.approx(-2 * ll + p * np.log(200), rel=RTOL)
    assert m.aic(X, trials=T) == pytest.approx(-2 * ll + 2 * p, rel=RTOL)
    assert BinomialMixture(2, fit_weights=False, probs_init=m.probs_).fit(X, trials=T)._n_parameters() == 6


def test_fit_weights_false_keeps_uniform_or_given_weights():
    rng = np.random.default_rng(6)
    X = rng.binomial(10, rng.choice([0.1, 0.9], p=[0.9, 0.1], size=500))
    m = BinomialMixture(2, fit_weights=False, random_state=0).fit(X, trials=10)
    np.testing.assert_array_equal(m.weights_, [0.5, 0.5])
    m = BinomialMixture(2, fit_weights=False, weights_init=[0.2, 0.8], random_state=0).fit(X, trials=10)
    np.testing.assert_array_equal(m.weights_, [0.2, 0.8])
    m = BinomialMixture(2, random_state=0, tol=1e-8, max_iter=500).fit(X, trials=10)
    assert sorted(m.weights_) == pytest.approx([0.1, 0.9], abs=0.03)


def test_probs_init_shapes():
    X = np.array([[1, 2], [3, 4], [0, 5]])
    m = BinomialMixture(2, probs_init=[0.2, 0.7], max_iter=1, tol=0)
    with pytest.warns(ConvergenceWarning):
        m.fit(X, trials=5)
    assert m.probs_.shape == (2, 2)
    with pytest.raises(ValueError, match=r"probs_init must have shape \(2,\) or \(2, 2\)"):
        BinomialMixture(2, probs_init=[[0.2, 0.3, 0.4]] * 2).fit(X, trials=5)
    with pytest.raises(ValueError, match="probabilities in"):
        BinomialMixture(2, probs_init=[0.2, 1.3]).fit(X, trials=5)


def test_probabilities_clipped_so_loglik_stays_finite():
    X = np.array([0, 0, 0, 10, 10, 10])
    m = BinomialMixture(2, probs_init=[0.3, 0.6], tol=1e-10, max_iter=100).fit(X, trials=10)
    assert sorted(m.probs_.ravel()) == [1e-10, 1 - 1e-10]
    assert np.all(np.isfinite(m.score_samples([0, 10, 5], trials=10)))


def test_bernoulli_mixture_recovers_truth():
    rng = np.random.default_rng(7)
    truth = np.array([[0.9, 0.1, 0.8, 0.2], [0.1, 0.9, 0.3, 0.7]])
    z = rng.integers(0, 2, 4000)
    X = (rng.random((4000, 4)) < truth[z]).astype(np.int8)
    m = BinomialMixture(2, n_init=3, random_state=0, tol=1e-6).fit(X)
    order = np.argsort(m.probs_[:, 0])[::-1]
    np.testing.assert_allclose(m.probs_[order], truth, atol=0.04)


def test_sample_shapes_labels_and_reproducibility():
    m = coins().fit(HEADS, trials=10)
    X, lab = m.sample(2000, trials=10, random_state=0)
    assert X.shape == (2000, 1) and lab.shape == (2000,)
    assert np.all((X >= 0) & (X <= 10))
    for c in range(2):
        assert X[lab == c].mean() / 10 == pytest.approx(m.probs_[c, 0], abs=0.02)
    X2, lab2 = m.sample(2000, trials=10, random_state=0)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(lab, lab2)
    Xr, _ = m.sample(3, trials=[[1], [5], [7]], random_state=1)
    assert np.all(Xr.ravel() <= [1, 5, 7])
    with pytest.raises(ValueError, match="broadcastable"):
        m.sample(3, trials=[1, 2])


# ---------------------------------------------------------------- sample weights
def test_weight_two_equals_repeated_row_and_zero_equals_removed(dtype):
    rng = np.random.default_rng(8)
    X = rng.binomial(10, rng.choice([0.3, 0.7], size=(60, 2))).astype(dtype)
    w = rng.integers(0, 3, size=60)  # 0, 1 or 2
    kw = dict(probs_init=[[0.4, 0.5], [0.6, 0.5]], tol=0, max_iter=15)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for mode in ("soft", "hard"):
            a = BinomialMixture(2, mode=mode, **kw).fit(X, trials=10, sample_weight=w)
            b = BinomialMixture(2, mode=mode, **kw).fit(np.repeat(X, w, axis=0), trials=10)
            np.testing.assert_allclose(a.probs_, b.probs_, rtol=1e-12)
            np.testing.assert_allclose(a.weights_, b.weights_, rtol=1e-12)
            np.testing.assert_allclose(a.lower_bounds_, b.lower_bounds_, rtol=1e-12)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "X, trials, match",
    [
        ([1, -2, 3], 5, "negative"),
        ([1, 6, 3], 5, "cannot exceed trials"),
        ([1, 2.5, 3], 5, "not an integer"),
        ([1, np.nan, 3], 5, "every count missing"),
        ([1, np.inf, 3], 5, "infinity"),
        ([1, 2, 3], 0, "trials must be >= 1"),
        ([1, 2, 3], 4.5, "trials must be integers"),
        ([1, 2, 3], [5, 5], "broadcastable"),
        ([1, 2, 3], np.nan, "trials contains NaN"),
        (np.ones((2, 2, 2)), 5, "1-D .* or 2-D"),
        (np.ones((0, 2)), 5, "empty"),
        ([["a", "b"]], 5, "numeric"),
        ([1], 5, "need at least one row per component"),
    ],
)
def test_bad_input_raises_clear_error(X, trials, match):
    with pytest.raises(ValueError, match=match):
        BinomialMixture(2).fit(X, trials=trials)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(n_components=0), "n_components"),
        (dict(mode="fuzzy"), "mode"),
        (dict(tol=-1), "tol"),
        (dict(max_iter=-1), "max_iter"),
        (dict(max_iter=1.5), "max_iter"),
        (dict(n_init=0), "n_init"),
        (dict(init_params="kmeans"), "init_params"),
        (dict(weights_init=[0.5, 0.6]), "sum to 1"),
        (dict(weights_init=[1.0]), "shape"),
        (dict(fit_weights="yes"), "fit_weights"),
        (dict(random_state="x"), "random_state"),
        (dict(warm_start=1), "warm_start"),
    ],
)
def test_bad_parameters_raise(params, match):
    with pytest.raises(ValueError, match=match):
        BinomialMixture(**{"n_components": 2, **params}).fit([1, 2, 3, 4], trials=5)


def test_sample_weight_errors_and_predict_feature_mismatch():
    X = [[1, 2], [3, 4], [5, 0]]
    for w, match in [([1, 2], "shape"), ([1, -1, 1], ">= 0"), ([1, np.nan, 1], "NaN"),
                     ([0, 0, 0], "positive sum"), ([0, 0, 1], "one row per component")]:
        with pytest.raises(ValueError, match=match):
            BinomialMixture(2).fit(X, trials=5, sample_weight=w)
    m = BinomialMixture(2, random_state=0).fit(X, trials=5)
    with pytest.raises(ValueError, match="X has 3 features, but BinomialMixture is expecting 2 features as input"):
        m.predict([[1, 2, 3]], trials=5)
    with pytest.raises(ValueError, match="not fitted"):
        BinomialMixture(2).predict(X, trials=5)


def test_callers_arrays_are_not_modified():
    X = np.array([[1, 2], [3, 4], [5, 0], [2, 2]], dtype=np.float32)
    T = np.array([[5], [6], [7], [5]])
    w = np.array([1.0, 2.0, 0.5, 1.0])
    wi, pi = np.array([0.3, 0.7]), np.array([[0.2, 0.3], [0.6, 0.7]])
    copies = [a.copy() for a in (X, T, w, wi, pi)]
    for mode in ("soft", "hard", "stochastic"):
        m = BinomialMixture(2, mode=mode, weights_init=wi, probs_init=pi, random_state=0)
        m.fit(X, trials=T, sample_weight=w)
        m.predict_proba(X, trials=T)
        m.score_samples(X, trials=T)
    for a, b in zip((X, T, w, wi, pi), copies):
        np.testing.assert_array_equal(a, b)


def test_get_set_params_and_sklearn_clone():
    from sklearn.base import clone

    m = BinomialMixture(3, mode="hard", tol=1e-5)
    params = m.get_params()
    assert params["n_components"] == 3 and params["mode"] == "hard" and params["tol"] == 1e-5
    assert m.set_params(mode="soft", max_iter=7) is m and m.max_iter == 7
    with pytest.raises(ValueError, match="Invalid parameter"):
        m.set_params(colour="red")
    c = clone(m)
    assert c.get_params() == m.get_params() and c is not m
    assert "mode" not in repr(BinomialMixture(2)) and "max_iter=7" in repr(m)


def test_fit_allocates_no_samples_by_components_array():
    """Peak memory of a soft fit grows by far less than one (n, k) float64 array."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        """
        import numpy as np, warnings
        from fastem import BinomialMixture
        def status():
            return {l.split(':')[0]: int(l.split()[1]) * 1024 for l in open('/proc/self/status')
                    if l.startswith(('VmHWM', 'VmRSS'))}
        warnings.simplefilter('ignore')
        n, k = 2_000_000, 8
        rng = np.random.default_rng(0)
        X = rng.binomial(20, 0.4, size=(n, 1)).astype(np.float64)
        BinomialMixture(k, max_iter=2, random_state=0).fit(X[:5000], trials=20)  # compile
        open('/proc/self/clear_refs', 'w').write('5')
        before = status()['VmRSS']
        BinomialMixture(k, max_iter=3, tol=0, random_state=0).fit(X, trials=20)
        print(status()['VmHWM'] - before)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    growth = int(out.stdout.split()[-1])
    n_by_k = 2_000_000 * 8 * 8
    assert growth < n_by_k / 4, f"fit grew peak memory by {growth / 2**20:.1f} MiB"


# ---------------------------------------------------------------- repeated rows
@pytest.mark.parametrize("mode", ["soft", "hard"])
@pytest.mark.parametrize("init", ["random", "random_from_data"])
def test_repeated_rows_are_compressed_without_changing_the_fit(monkeypatch, mode, init):
    import fastem.binomial as fb

    rng = np.random.default_rng(9)
    T = rng.integers(8, 11, size=(5000, 1))  # per-row trials: part of a row's identity
    X = rng.binomial(T, rng.choice([0.2, 0.5, 0.8], size=(5000, 2)))
    w = rng.uniform(0, 2, size=5000)
    kw = dict(mode=mode, init_params=init, random_state=3, tol=0, max_iter=12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        packed = BinomialMixture(3, **kw).fit(X, trials=T, sample_weight=w)
        monkeypatch.setattr(fb, "_compress", lambda data: None)
        plain = BinomialMixture(3, **kw).fit(X, trials=T, sample_weight=w)
    assert packed.n_distinct_rows_ <= 3 * 11 * 11 < plain.n_distinct_rows_ == 5000
    np.testing.assert_allclose(packed.probs_, plain.probs_, rtol=1e-10)
    np.testing.assert_allclose(packed.weights_, plain.weights_, rtol=1e-10)
    np.testing.assert_allclose(packed.lower_bounds_, plain.lower_bounds_, rtol=1e-10)
    assert packed.n_iter_ == plain.n_iter_


def test_stochastic_and_distinct_rows_are_not_compressed():
    rng = np.random.default_rng(10)
    X = rng.binomial(10, 0.4, size=3000)
    m = BinomialMixture(2, mode="stochastic", max_iter=3, random_state=0).fit(X, trials=10)
    assert m.n_distinct_rows_ == 3000
    Xd = rng.integers(0, 10**6, size=(3000, 1))
    with pytest.warns(ConvergenceWarning):
        m = BinomialMixture(2, max_iter=3, random_state=0).fit(Xd, trials=10**6)
    assert m.n_distinct_rows_ == 3000


def test_one_dimensional_counts_take_per_row_trials_as_vector_or_column():
    X = np.array([3, 7, 1, 9])
    T = np.array([5, 10, 2, 12])
    a = BinomialMixture(2, probs_init=[0.3, 0.7], max_iter=3, tol=0)
    b = BinomialMixture(2, probs_init=[0.3, 0.7], max_iter=3, tol=0)
    with pytest.warns(ConvergenceWarning):
        a.fit(X, trials=T)
    with pytest.warns(ConvergenceWarning):
        b.fit(X, trials=T[:, None])
    np.testing.assert_array_equal(a.probs_, b.probs_)
    with pytest.raises(ValueError, match="cannot exceed trials"):
        BinomialMixture(2).fit(X, trials=np.array([[5], [10], [2], [8]]))
