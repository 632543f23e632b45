"""Dask arrays (issue 12, point 3): every EM pass runs on the blocks and the client adds
their small statistics in block order; the fit is the in-memory fit of ``X.compute()``;
``predict``, ``predict_proba`` and ``score_samples`` stay lazy; bad input fails clearly.

The data are tiny (1,200 rows, 3 features, 2 components): what costs is Numba's first
compilation of each covariance type and mode, and Dask's per-task overhead."""

import contextlib
import copy
import threading
import warnings

import numpy as np
import pytest

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

from conftest import needs_jit  # noqa: E402
from fastem import BinomialMixture, GaussianMixture  # noqa: E402

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
MODES = ["soft", "hard", "stochastic"]
GAUSS_ATTRS = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_")
BINOM_ATTRS = ("weights_", "probs_")
K, N, D = 2, 1200, 3
ROWS = (250, 400, 300, 250)  # the row chunks: uneven on purpose

_RNG = np.random.default_rng(2026)
X64 = np.concatenate([_RNG.normal(-2.0, 1.0, (700, D)), _RNG.normal(2.5, 1.5, (500, D))])
X64[:, 1] += 0.4 * X64[:, 0]  # correlated features
X64 = X64[_RNG.permutation(N)]
W = _RNG.uniform(0.2, 2.0, N)

MEANS0 = np.array([[-1.5, -0.5, -1.0], [1.0, 1.5, 2.0]])
WEIGHTS0 = np.array([0.4, 0.6])
_FULL0 = np.array([np.eye(D) * 0.8, np.eye(D) * 0.5])
_FULL0[0, 0, 1] = _FULL0[0, 1, 0] = 0.1
PRECISIONS0 = {"full": _FULL0, "tied": _FULL0[0], "diag": np.array([[0.8, 0.7, 0.9],
               [0.5, 0.6, 0.4]]), "spherical": np.array([0.8, 0.5])}

# Counts: two components, trials as a number, per feature, per row or per cell.
_P = np.array([[0.2, 0.7, 0.5], [0.75, 0.3, 0.6]])
_Z = _RNG.integers(0, 2, N)
_T_FEATURE = [12, 15, 20]
_T_ROW = _RNG.integers(5, 21, (N, 1)).astype(np.float64)
_T_CELL = _RNG.integers(5, 21, (N, D)).astype(np.float64)


def _counts(T):
    return _RNG.binomial(np.broadcast_to(np.asarray(T, np.int64), (N, D)), _P[_Z]).astype(
        np.float64)


TRIALS = {  # kind -> (X, trials as given to the in-memory fit)
    "int": (_counts(12), 12),
    "list": (_counts(_T_FEATURE), _T_FEATURE),
    "dask-row": (_counts(_T_ROW), _T_ROW),
    "dask-cell": (_counts(_T_CELL), _T_CELL),
}
PROBS0 = np.array([[0.3, 0.6, 0.4], [0.6, 0.4, 0.7]])


# ------------------------------------------------------------------------------- helpers
def _rel(a, b):
    """max |a - b| over max |b|: the relative difference of two arrays (or numbers)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    if not a.size:
        return 0.0
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-300))


def assert_rel(a, b, rtol, what=""):
    r = _rel(a, b)
    assert r <= rtol, f"{what}: relative difference {r:.3g} > {rtol:g}"


def assert_same_fit(a, b, attrs, rtol=1e-10):
    """Two fits agree to ``rtol`` relative (same dtypes, iterations and convergence)."""
    for name in attrs:
        x, y = getattr(a, name), getattr(b, name)
        assert np.asarray(x).dtype == np.asarray(y).dtype, (name, x.dtype, y.dtype)
        assert_rel(x, y, rtol, name)
    assert_rel(a.lower_bound_, b.lower_bound_, rtol, "lower_bound_")
    assert a.n_iter_ == b.n_iter_ and a.converged_ == b.converged_


def assert_same_bits(a, b, attrs):
    for name in (*attrs, "lower_bound_", "n_iter_"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


def dx(X, rows=ROWS):
    """X as a dask array with row chunks ``rows`` (one chunk along the features)."""
    X = np.asarray(X)
    return da.from_array(X, chunks=(tuple(rows),) + tuple((s,) for s in X.shape[1:]))


def fit(model, X, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tol=0: no convergence
        return model.fit(X, **kw)


def gauss(ct="full", mode="soft", start=True, **kw):
    """A GaussianMixture from a fixed start (``start``) or its default init (k-means)."""
    if start:
        kw.update(means_init=MEANS0, weights_init=WEIGHTS0, precisions_init=PRECISIONS0[ct])
    kw = {"max_iter": 6, "tol": 0, "random_state": 0, **kw}
    return GaussianMixture(K, covariance_type=ct, mode=mode, **kw)


def binom(mode="soft", start=True, **kw):
    if start:
        kw.update(probs_init=PROBS0, weights_init=WEIGHTS0)
    kw = {"max_iter": 6, "tol": 0, "random_state": 0, **kw}
    return BinomialMixture(K, mode=mode, **kw)


def dask_trials(kind):
    """X and trials of ``kind`` as a dask fit takes them (dask arrays for dask-*)."""
    X, T = TRIALS[kind]
    return dx(X), (dx(T) if kind.startswith("dask") else T)


def snapshot(model):
    return copy.deepcopy(vars(model))


def assert_unchanged(model, before):
    now = vars(model)
    assert set(now) == set(before), set(now) ^ set(before)
    for name, value in before.items():
        if isinstance(value, np.ndarray):
            assert np.array_equal(now[name], value, equal_nan=True), name
        elif isinstance(value, float) and np.isnan(value):
            assert np.isnan(now[name]), name
        else:
            assert now[name] == value, name


def patch_init_sample(monkeypatch, rows):
    """Bound the initialisation's sample of rows (``fastem._sources.INIT_SAMPLE_ROWS``)."""
    from fastem import _sources

    monkeypatch.setattr(_sources, "INIT_SAMPLE_ROWS", rows)


# ------------------------------------------------------------------- Gaussian: the fit
@pytest.mark.parametrize("ct", COVARIANCE_TYPES)
@pytest.mark.parametrize("mode", MODES)
def test_gaussian_dask_fit_is_the_in_memory_fit(ct, mode, dtype):
    X = X64.astype(dtype)
    a = fit(gauss(ct, mode), dx(X))
    b = fit(gauss(ct, mode), X)
    assert_same_fit(a, b, GAUSS_ATTRS)


@pytest.mark.parametrize("ct", COVARIANCE_TYPES)
def test_gaussian_default_kmeans_init_on_dask_is_the_in_memory_one(ct):
    # 1,200 rows, far below the init's sample size: the sample is every row
    a = fit(gauss(ct, start=False), dx(X64))
    b = fit(gauss(ct, start=False), X64)
    assert_same_fit(a, b, GAUSS_ATTRS)


def test_gaussian_default_kmeans_init_on_dask_float32_hard():
    X = X64.astype(np.float32)
    a = fit(gauss("full", "hard", start=False), dx(X))
    b = fit(gauss("full", "hard", start=False), X)
    assert_same_fit(a, b, GAUSS_ATTRS)


@pytest.mark.parametrize("weights", ["numpy", "dask"])
@pytest.mark.parametrize("mode", MODES)
def test_gaussian_sample_weight_numpy_or_dask(weights, mode):
    w = W if weights == "numpy" else dx(W)
    a = fit(gauss("diag", mode), dx(X64), sample_weight=w)
    b = fit(gauss("diag", mode), X64, sample_weight=W)
    assert_same_fit(a, b, GAUSS_ATTRS)
    unweighted = fit(gauss("diag", mode), X64)
    assert _rel(a.means_, unweighted.means_) > 1e-6  # the weights were used


@pytest.mark.parametrize("mode", ["hard", "stochastic"])
@pytest.mark.parametrize("rows", [(N,), (100,) * 12, (1, 599, 7, 593)],
                         ids=["one-block", "12-blocks", "tiny-blocks"])
def test_any_chunking_fits_as_in_memory(mode, rows):
    """Stochastic draws are keyed by the global row: any chunking, the in-memory fit."""
    a = fit(gauss("full", mode), dx(X64, rows))
    b = fit(gauss("full", mode), X64)
    assert_same_fit(a, b, GAUSS_ATTRS)


@pytest.mark.parametrize("mode", MODES)
def test_a_fixed_chunking_gives_the_same_bits_on_every_local_scheduler(mode):
    X = dx(X64)
    first = fit(gauss("full", mode, start=False), X)  # the default: threads, no client
    again = fit(gauss("full", mode, start=False), X)
    with dask.config.set(scheduler="threads"):
        threads = fit(gauss("full", mode, start=False), X)
    with dask.config.set(scheduler="synchronous"):
        sync = fit(gauss("full", mode, start=False), X)
    for other in (again, threads, sync):
        assert_same_bits(first, other, GAUSS_ATTRS)
    other_chunks = fit(gauss("full", mode, start=False), dx(X64, (500, 700)))
    assert_same_fit(other_chunks, first, GAUSS_ATTRS)


# ---------------------------------------------------------------- Gaussian: per row
@pytest.mark.parametrize("ct", ["full", "spherical"])
def test_gaussian_per_row_outputs_are_lazy_and_equal_the_in_memory_ones(ct, dtype):
    X = X64.astype(dtype)
    model = fit(gauss(ct), X)
    dX = dx(X)
    labels, proba, ll = model.predict(dX), model.predict_proba(dX), model.score_samples(dX)
    for out in (labels, proba, ll):
        assert isinstance(out, da.Array)
    assert labels.shape == (N,) and labels.chunks == (ROWS,)
    assert ll.shape == (N,) and ll.chunks == (ROWS,)
    assert proba.shape == (N, K) and proba.chunks == (ROWS, (K,))
    want_labels, want_proba, want_ll = model.predict(X), model.predict_proba(X), \
        model.score_samples(X)
    got_labels, got_proba, got_ll = dask.compute(labels, proba, ll)
    assert np.array_equal(got_labels, want_labels)
    assert got_proba.dtype == want_proba.dtype and got_ll.dtype == want_ll.dtype
    assert_rel(got_proba, want_proba, 1e-12, "predict_proba")
    assert_rel(got_ll, want_ll, 1e-12, "score_samples")
    for name in ("score", "bic", "aic"):
        got, want = getattr(model, name)(dX), getattr(model, name)(X)
        assert isinstance(got, float), (name, type(got))
        assert_rel(got, want, 1e-10, name)


# ------------------------------------------------------------------------- Binomial
@pytest.mark.parametrize("kind", list(TRIALS))
@pytest.mark.parametrize("mode", MODES)
def test_binomial_dask_fit_is_the_in_memory_fit(kind, mode):
    X, T = TRIALS[kind]
    dX, dT = dask_trials(kind)
    a = fit(binom(mode), dX, trials=dT)
    b = fit(binom(mode), X, trials=T)
    assert_same_fit(a, b, BINOM_ATTRS)


@pytest.mark.parametrize("init", ["random", "random_from_data"])
@pytest.mark.parametrize("mode", MODES)
def test_binomial_inits_on_dask_are_the_in_memory_ones(init, mode):
    X, T = TRIALS["dask-row"]
    dX, dT = dask_trials("dask-row")
    a = fit(binom(mode, start=False, init_params=init), dX, trials=dT)
    b = fit(binom(mode, start=False, init_params=init), X, trials=T)
    assert_same_fit(a, b, BINOM_ATTRS)


@pytest.mark.parametrize("weights", ["numpy", "dask"])
def test_binomial_sample_weight_numpy_or_dask(weights):
    X, T = TRIALS["dask-cell"]
    dX, dT = dask_trials("dask-cell")
    w = W if weights == "numpy" else dx(W)
    a = fit(binom("soft"), dX, trials=dT, sample_weight=w)
    b = fit(binom("soft"), X, trials=T, sample_weight=W)
    assert_same_fit(a, b, BINOM_ATTRS)


@pytest.mark.parametrize("kind", list(TRIALS))
def test_binomial_per_row_outputs_are_lazy_and_equal_the_in_memory_ones(kind):
    X, T = TRIALS[kind]
    dX, dT = dask_trials(kind)
    model = fit(binom("soft"), X, trials=T)
    labels = model.predict(dX, trials=dT)
    proba = model.predict_proba(dX, trials=dT)
    ll = model.score_samples(dX, trials=dT)
    for out in (labels, proba, ll):
        assert isinstance(out, da.Array)
    assert labels.chunks == (ROWS,) and ll.chunks == (ROWS,)
    assert proba.shape == (N, K) and proba.chunks == (ROWS, (K,))
    got_labels, got_proba, got_ll = dask.compute(labels, proba, ll)
    assert np.array_equal(got_labels, model.predict(X, trials=T))
    assert_rel(got_proba, model.predict_proba(X, trials=T), 1e-12, "predict_proba")
    assert_rel(got_ll, model.score_samples(X, trials=T), 1e-12, "score_samples")
    for name in ("score", "bic", "aic"):
        got, want = getattr(model, name)(dX, trials=dT), getattr(model, name)(X, trials=T)
        assert isinstance(got, float), (name, type(got))
        assert_rel(got, want, 1e-10, name)


def test_binomial_takes_a_1d_dask_array_as_one_feature():
    x = TRIALS["int"][0][:, 1]
    a = fit(binom("soft", start=False), dx(x), trials=12)
    b = fit(binom("soft", start=False), x, trials=12)
    assert a.probs_.shape == (K, 1)
    assert_same_fit(a, b, BINOM_ATTRS)
    labels = a.predict(dx(x), trials=12)
    assert isinstance(labels, da.Array) and labels.chunks == (ROWS,)
    assert np.array_equal(labels.compute(), b.predict(x, trials=12))


def test_binomial_fixed_chunking_same_bits_threads_and_synchronous():
    dX, dT = dask_trials("dask-row")
    first = fit(binom("stochastic", start=False, init_params="random_from_data"), dX,
                trials=dT)
    with dask.config.set(scheduler="synchronous"):
        sync = fit(binom("stochastic", start=False, init_params="random_from_data"), dX,
                   trials=dT)
    assert_same_bits(first, sync, BINOM_ATTRS)


# ------------------------------------------------------- the client never holds the data
BOUND_ROWS = 200


@pytest.mark.parametrize("case", ["gauss-soft", "gauss-hard", "binom-stochastic"])
def test_the_client_never_materialises_x(case, monkeypatch):
    """Any compute of more than a sample-sized array, or np.asarray of any dask array,
    on the client fails; the init's sample is bounded to 200 rows."""
    from dask.array.core import Array

    dX, dT = (dx(X64), None) if case.startswith("gauss") else dask_trials("dask-row")
    bound = BOUND_ROWS * D
    assert dX.size > 5 * bound
    patch_init_sample(monkeypatch, BOUND_ROWS)
    def too_big(x):
        return isinstance(x, Array) and x.size > bound

    def no_array(self, *args, **kwargs):
        raise AssertionError(f"np.asarray of a dask array of shape {self.shape} on the client")

    compute = Array.compute

    def bounded_compute(self, **kwargs):
        if self.size > bound:
            raise AssertionError(f"compute() of a dask array of shape {self.shape}")
        return compute(self, **kwargs)

    def bounded(original):
        def run(*args, **kwargs):
            todo = list(args)
            while todo:
                x = todo.pop()
                if isinstance(x, (list, tuple)):
                    todo.extend(x)
                elif isinstance(x, dict):
                    todo.extend(x.values())
                elif too_big(x):
                    raise AssertionError(f"dask.compute of a dask array of shape {x.shape}")
            return original(*args, **kwargs)
        return run

    with monkeypatch.context() as m:
        m.setattr(Array, "__array__", no_array)
        m.setattr(Array, "compute", bounded_compute)
        m.setattr(dask, "compute", bounded(dask.compute))
        m.setattr(dask.base, "compute", bounded(dask.base.compute))
        if case.startswith("gauss"):
            model = fit(gauss("full", case.split("-")[1], start=False), dX)
            outs = model.predict(dX), model.predict_proba(dX), model.score_samples(dX)
            score = model.score(dX)
        else:
            model = fit(binom("stochastic", start=False, init_params="random_from_data"), dX,
                        trials=dT)
            outs = (model.predict(dX, trials=dT), model.predict_proba(dX, trials=dT),
                    model.score_samples(dX, trials=dT))
            score = model.score(dX, trials=dT)
    assert all(isinstance(o, da.Array) for o in outs)
    assert np.isfinite(score)
    if case.startswith("gauss"):  # the clusters at -2 and 2.5 from a 200-row sample
        assert np.allclose(np.sort(model.means_[:, 0]), [-2.0, 2.5], atol=0.4)
        assert score == pytest.approx(model.score(X64), rel=1e-10)
    else:
        order = np.argsort(model.probs_[:, 0])
        assert np.allclose(model.probs_[order], _P, atol=0.05)


# ---------------------------------------------------------------------------- bad input
def _nan_block(X, which, value=np.nan):
    """X with NaN (or ``value``) in one cell of the third block, or a second block of NaN
    (for counts, a NaN cell is a missing count, and a block of NaN rows with no count)."""
    X = X.copy()
    if which == "one":
        X[ROWS[0] + ROWS[1] + 17, 2] = value  # in the third block
    else:
        X[ROWS[0]:ROWS[0] + ROWS[1]] = np.nan  # the whole second block
    return X


@pytest.mark.parametrize("model", ["gauss", "binom"])
def test_bad_dask_input_gives_clear_value_errors(model):
    if model == "gauss":
        X, make, kw = X64, lambda: gauss("full"), {}
    else:
        X, make, kw = TRIALS["int"][0], lambda: binom("soft"), {"trials": 12}
    dX = dx(X)
    with pytest.raises(ValueError, match="(?i)chunk"):
        fit(make(), dX[dX[:, 0] > 0], **kw)  # unknown chunk sizes
    with pytest.raises(ValueError, match="(?i)chunk|feature"):
        fit(make(), dX.rechunk((100, 1)), **kw)  # split along the features
    for which in ("one", "block"):  # a NaN cell is a missing value; a row of them is empty
        with pytest.raises(ValueError, match="NaN" if which == "block" else "infinity"):
            fit(make(), dx(_nan_block(X, which, np.inf)), **kw)
    X3 = da.from_array(np.stack([X, X], axis=2), chunks=(ROWS, (D,), (2,)))
    with pytest.raises(ValueError):
        fit(make(), X3, **kw)
    if model == "gauss":
        with pytest.raises(ValueError):
            fit(make(), dx(X[:, 0]))


def _failing(X, fail_after, exc=OverflowError):
    """X's dask array whose block tasks raise ``exc`` after ``fail_after`` block reads in
    all (0: always, and then a closure without state: pickled by value, so a worker
    process needs neither a lock nor the test module)."""
    if fail_after == 0:
        def block(b):
            raise exc(f"boom in a block of {b.shape[0]} rows")
    else:  # counts the reads of this process (the local schedulers)
        lock, calls = threading.Lock(), [0]

        def block(b):
            with lock:
                calls[0] += 1
                n = calls[0]
            if n > fail_after:
                raise exc(f"boom in a block of {b.shape[0]} rows")
            return b

    return dx(X).map_blocks(block, dtype=X.dtype, meta=np.empty((0,) * X.ndim, X.dtype))


@pytest.mark.parametrize("model", ["gauss", "binom"])
@pytest.mark.parametrize("failure", ["nan", "first-pass", "mid-fit"])
def test_a_failed_fit_raises_the_original_error_and_leaves_the_model_as_it_was(model,
                                                                              failure):
    if model == "gauss":
        X, make, kw = X64, lambda: gauss("full", "hard"), {}
    else:
        X, make, kw = TRIALS["int"][0], lambda: binom("hard"), {"trials": 12}
    fitted = fit(make(), X, **kw)
    before = snapshot(fitted)
    if failure == "nan":
        bad, exc = dx(_nan_block(X, "block")), ValueError  # rows with no observed cell
    else:  # fails in its first pass, or after every block was read twice
        bad, exc = _failing(X, 0 if failure == "first-pass" else 2 * len(ROWS)), OverflowError
    with pytest.raises(exc, match="NaN" if failure == "nan" else "boom"):
        fit(fitted, bad, **kw)
    assert_unchanged(fitted, before)


# ----------------------------------------------------------------- distributed clusters
@contextlib.contextmanager
def _local_cluster(**kwargs):
    """A LocalCluster and a Client on it that is never the global default (a test uses
    it inside ``client.as_current()``); both closed on exit."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(dashboard_address=":0", **kwargs)
        c = distributed.Client(cluster, set_as_default=False)
    try:
        yield c
    finally:
        c.close()
        cluster.close()


@pytest.fixture(scope="module")
def client():
    """One cluster of two single-threaded worker processes for every cluster test."""
    with _local_cluster(n_workers=2, processes=True, threads_per_worker=1) as c:
        yield c


@pytest.mark.parametrize("mode", MODES)
def test_a_cluster_fits_as_in_memory_with_the_bits_of_the_threaded_scheduler(client, mode):
    dX = dx(X64)
    threads = fit(gauss("full", mode), dX)
    with client.as_current():
        on_cluster = fit(gauss("full", mode), dX)
        labels, ll = dask.compute(on_cluster.predict(dX), on_cluster.score_samples(dX))
        score = on_cluster.score(dX)
    assert_same_bits(on_cluster, threads, GAUSS_ATTRS)
    memory = fit(gauss("full", mode), X64)
    assert_same_fit(on_cluster, memory, GAUSS_ATTRS)
    assert np.array_equal(labels, memory.predict(X64))
    assert_rel(ll, memory.score_samples(X64), 1e-10, "score_samples")
    assert_rel(score, memory.score(X64), 1e-10, "score")


def test_a_cluster_fits_binomial_with_dask_trials(client):
    X, T = TRIALS["dask-cell"]
    dX, dT = dask_trials("dask-cell")
    threads = fit(binom("stochastic", start=False, init_params="random_from_data"), dX,
                  trials=dT)
    with client.as_current():
        on_cluster = fit(binom("stochastic", start=False, init_params="random_from_data"), dX,
                         trials=dT)
        proba = on_cluster.predict_proba(dX, trials=dT).compute()
    assert_same_bits(on_cluster, threads, BINOM_ATTRS)
    memory = fit(binom("stochastic", start=False, init_params="random_from_data"), X,
                 trials=T)
    assert_same_fit(on_cluster, memory, BINOM_ATTRS)
    assert_rel(proba, memory.predict_proba(X, trials=T), 1e-10, "predict_proba")


def _kernel_cache_stats():
    """What a worker's Numba dispatchers in fastem's kernel modules have done: cache
    misses (compilations), cache hits (loads from the on-disk cache), and how many
    dispatchers there are.  Defined at call time: pickled by value for ``client.run``."""

    def stats():
        import sys

        from numba.core.dispatcher import Dispatcher

        found = {}
        for name, module in list(sys.modules.items()):
            if name.startswith("fastem._kernels") or name == "fastem.kernels":
                for value in vars(module).values():
                    if isinstance(value, Dispatcher):
                        found[id(value)] = value
        misses = {d.py_func.__qualname__: sum(d.stats.cache_misses.values())
                  for d in found.values() if sum(d.stats.cache_misses.values())}
        return {"dispatchers": len(found), "misses": misses,
                "hits": sum(sum(d.stats.cache_hits.values()) for d in found.values())}

    return stats


@needs_jit
def test_workers_load_the_kernels_from_the_cache_once(client):
    dX = dx(X64)
    stats = _kernel_cache_stats()
    with client.as_current():
        fit(gauss("full", "soft", start=False), dX)
        fit(gauss("diag", "hard", start=False), dX)
        first = client.run(stats)
        fit(gauss("diag", "hard", start=False), dX)  # the same fit again
        second = client.run(stats)
    assert len(first) == 2
    for worker, s in first.items():
        assert s["dispatchers"] > 0, (worker, s)
        assert s["misses"] == {}, f"{worker} compiled {s['misses']}"
    assert sum(s["hits"] for s in first.values()) > 0, first  # kernels ran, from the cache
    for worker, s in second.items():
        assert s["misses"] == {}, f"{worker} compiled {s['misses']} in the second fit"
        assert s["hits"] == first[worker]["hits"], (worker, "loaded kernels again")


def test_a_worker_failure_on_the_cluster_raises_the_original_exception(client):
    fitted = fit(gauss("full"), X64)
    before = snapshot(fitted)
    with client.as_current(), pytest.raises(OverflowError, match="boom"):
        fit(fitted, _failing(X64, 0))
    assert_unchanged(fitted, before)


def test_a_multithreaded_worker_gives_the_single_threaded_bits():
    dX = dx(X64)
    with dask.config.set(scheduler="synchronous"):
        single = {m: fit(gauss("full", m, start=False), dX) for m in MODES}
    with _local_cluster(n_workers=1, processes=False, threads_per_worker=2) as c, \
            c.as_current():
        threaded = {m: fit(gauss("full", m, start=False), dX) for m in MODES}
    for m in MODES:
        assert_same_bits(threaded[m], single[m], GAUSS_ATTRS)
