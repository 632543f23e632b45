"""The public statistics API: e_step_stats over chunks, their sums, m_step (issue 12, 1)."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reference as ref
from fastem import BinomialMixture, BinomialStats, GaussianMixture, GaussianStats, NotFittedError

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
_RNG = np.random.default_rng(7)
X64 = np.concatenate([_RNG.normal(-4.0, 1.0, (300, 3)), _RNG.normal(4.0, 1.5, (200, 3))])
X64[:, 1] += 0.5 * X64[:, 0]  # correlated features
W = _RNG.uniform(0.2, 2.0, X64.shape[0])
C = np.concatenate([_RNG.binomial(12, 0.2, (300, 3)), _RNG.binomial(12, 0.7, (200, 3))]).astype(
    np.float64)


def _fitted(ct, max_iter=2, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return GaussianMixture(2, covariance_type=ct, max_iter=max_iter, tol=0, random_state=0,
                               **kw).fit(X64)


def _rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def _fields(s):
    if isinstance(s, GaussianStats):
        return {"nk": s.nk, "s1": s.s1, "s2": s.s2, "loglik": s.loglik, "weight": s.weight}
    return {"nk": s.nk, "sx": s.sx, "st": s.st, "loglik": s.loglik, "weight": s.weight}


@pytest.mark.parametrize("ct", COVARIANCE_TYPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@settings(max_examples=8, deadline=None)
@given(cuts=st.lists(st.integers(1, X64.shape[0] - 1), min_size=1, max_size=4, unique=True))
def test_gaussian_chunks_add_up_to_the_whole(ct, dtype, cuts):
    model = _fitted(ct)
    X = X64.astype(dtype)
    whole = model.e_step_stats(X, sample_weight=W)
    edges = [0, *sorted(cuts), X.shape[0]]
    parts = [model.e_step_stats(X[a:b], sample_weight=W[a:b]) for a, b in zip(edges, edges[1:])]
    total = sum(parts)
    for name, value in _fields(total).items():
        assert _rel(value, _fields(whole)[name]) <= 1e-12, name
    again = sum(model.e_step_stats(X[a:b], sample_weight=W[a:b]) for a, b in zip(edges, edges[1:]))
    for name, value in _fields(total).items():  # the same chunking: the same bits
        assert np.array_equal(value, _fields(again)[name]), name
    assert total.s1.dtype == np.float64 and total.weight == pytest.approx(W.sum(), rel=1e-14)


@pytest.mark.parametrize("ct", COVARIANCE_TYPES)
def test_gaussian_stats_against_an_independent_reference(ct):
    model = _fitted(ct)
    s = model.e_step_stats(X64, sample_weight=W)
    logd = ref.gaussian_log_density(X64, model.means_, model.covariances_, ct) + np.log(
        model.weights_)
    top = logd.max(axis=1, keepdims=True)
    resp = np.exp(logd - top)
    ll_rows = top[:, 0] + np.log(resp.sum(axis=1))
    resp /= resp.sum(axis=1, keepdims=True)
    wr = W[:, None] * resp
    assert _rel(s.nk, wr.sum(axis=0)) <= 1e-10
    assert s.loglik == pytest.approx(float(W @ ll_rows), rel=1e-10)
    diff = X64[None, :, :] - model.means_[:, None, :]  # (k, n, d) about the fitted means
    assert _rel(s.s1, np.einsum("nk,knd->kd", wr, diff)) <= 1e-9
    if ct == "full":
        expect = np.einsum("nk,kni,knj->kij", wr, diff, diff)
    elif ct == "tied":
        z = model.weights_ @ model.means_
        expect = np.einsum("n,ni,nj->ij", W, X64 - z, X64 - z)
    else:
        expect = np.einsum("nk,knd->kd", wr, diff**2)
    assert _rel(s.s2, expect) <= 1e-9
    # moved to other references, the statistics are those about the new points
    new_ref, new_center = model.means_ + [[0.3, -1.0, 2.0]], np.array([1.0, 2.0, -3.0])
    moved = s.about(new_ref, new_center)
    diff2 = X64[None, :, :] - new_ref[:, None, :]
    assert _rel(moved.s1, np.einsum("nk,knd->kd", wr, diff2)) <= 1e-9
    if ct == "full":
        expect = np.einsum("nk,kni,knj->kij", wr, diff2, diff2)
    elif ct == "tied":
        expect = np.einsum("n,ni,nj->ij", W, X64 - new_center, X64 - new_center)
    else:
        expect = np.einsum("nk,knd->kd", wr, diff2**2)
    assert _rel(moved.s2, expect) <= 1e-9


@pytest.mark.parametrize("ct", COVARIANCE_TYPES)
def test_sums_of_statistics_about_different_references(ct):
    # statistics of two halves at two different models' parameters: the sum is taken
    # about the first's references
    a, b = _fitted(ct, max_iter=1), _fitted(ct, max_iter=4)
    sa, sb = a.e_step_stats(X64[:250]), b.e_step_stats(X64[250:])
    total = sa + sb
    moved = sb.about(sa.ref, sa.center)
    assert np.array_equal(total.ref, sa.ref)
    assert _rel(total.s2, sa.s2 + moved.s2) <= 1e-14
    assert _rel(total.s1, sa.s1 + moved.s1) <= 1e-14
    assert total.loglik == sa.loglik + sb.loglik


@pytest.mark.parametrize("ct", COVARIANCE_TYPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_an_em_loop_on_the_public_api_is_fits_own(ct, weighted):
    # fit divides the weights by their maximum, e_step_stats takes them as they are (the
    # chunks' statistics must add up): with a maximum of 1 both see the same numbers
    sw = W / W.max() if weighted else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        longer = GaussianMixture(2, covariance_type=ct, max_iter=4, tol=0,
                                 random_state=0).fit(X64, sample_weight=sw)
        model = GaussianMixture(2, covariance_type=ct, max_iter=2, tol=0,
                                random_state=0).fit(X64, sample_weight=sw)
    for _ in range(2):
        model.m_step(model.e_step_stats(X64, sample_weight=sw))
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_"):
        assert np.array_equal(getattr(model, name), getattr(longer, name)), name


def test_m_step_over_chunks_matches_the_whole_to_rounding():
    model, whole = _fitted("full"), _fitted("full")
    whole.m_step(whole.e_step_stats(X64))
    model.m_step(sum(model.e_step_stats(X64[a:a + 64]) for a in range(0, X64.shape[0], 64)))
    assert _rel(model.covariances_, whole.covariances_) <= 1e-12
    assert _rel(model.means_, whole.means_) <= 1e-12


def test_float32_model_keeps_its_dtype():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = GaussianMixture(2, max_iter=2, random_state=0).fit(X64.astype(np.float32))
    model.m_step(model.e_step_stats(X64.astype(np.float32)))
    assert model.means_.dtype == np.float32 and model.covariances_.dtype == np.float32


@pytest.mark.parametrize("fit_weights", [True, False])
def test_binomial_chunks_and_the_em_loop(fit_weights):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        longer = BinomialMixture(2, trials=12, max_iter=4, tol=0, random_state=0,
                                 fit_weights=fit_weights).fit(C, sample_weight=W / W.max())
        model = BinomialMixture(2, trials=12, max_iter=2, tol=0, random_state=0,
                                fit_weights=fit_weights).fit(C, sample_weight=W / W.max())
    whole = model.e_step_stats(C, sample_weight=W)
    parts = model.e_step_stats(C[:77], sample_weight=W[:77]) + model.e_step_stats(
        C[77:], sample_weight=W[77:])
    for name, value in _fields(parts).items():
        assert _rel(value, _fields(whole)[name]) <= 1e-12, name
    # the log-likelihood includes the binomial coefficients: it is score()'s
    assert whole.loglik / whole.weight == pytest.approx(
        float(W @ model.score_samples(C)) / W.sum(), rel=1e-12)
    for _ in range(2):
        model.m_step(model.e_step_stats(C, sample_weight=W / W.max()))
    assert np.array_equal(model.probs_, longer.probs_)
    assert np.array_equal(model.weights_, longer.weights_)


def test_binomial_stats_against_the_reference():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = BinomialMixture(2, trials=12, max_iter=2, random_state=0).fit(C)
    s = model.e_step_stats(C)
    logd = ref.binomial_log_density(C, 12, model.probs_) + np.log(model.weights_)
    resp = np.exp(logd - logd.max(axis=1, keepdims=True))
    resp /= resp.sum(axis=1, keepdims=True)
    assert _rel(s.nk, resp.sum(axis=0)) <= 1e-10
    assert _rel(s.sx, resp.T @ C) <= 1e-10
    assert _rel(s.st, resp.T @ np.full_like(C, 12.0)) <= 1e-10


def test_misuse_gives_clear_errors():
    g, b = _fitted("full"), _fitted("diag")
    sg, sd = g.e_step_stats(X64), b.e_step_stats(X64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bm = BinomialMixture(2, trials=12, max_iter=2, random_state=0).fit(C)
    sb = bm.e_step_stats(C)
    with pytest.raises(TypeError, match="cannot add"):
        sg + sb
    with pytest.raises(ValueError, match="different models"):
        sg + sd
    with pytest.raises(TypeError):
        sg + 1.5
    with pytest.raises(NotFittedError):
        GaussianMixture(2).e_step_stats(X64)
    with pytest.raises(NotFittedError):
        GaussianMixture(2).m_step(sg)
    with pytest.raises(TypeError, match="GaussianStats"):
        g.m_step(sb)
    with pytest.raises(ValueError, match="'diag' model"):
        g.m_step(sd)
    with pytest.raises(ValueError, match="features"):
        g.e_step_stats(X64[:, :2])
    empty = GaussianStats("full", np.zeros(2), np.zeros((2, 3)), np.zeros((2, 3, 3)),
                          g.means_, np.zeros(3), 0.0, 0.0)
    before = g.means_.copy()
    with pytest.raises(ValueError, match="no rows"):
        g.m_step(empty)
    assert np.array_equal(g.means_, before)
    with pytest.raises(ValueError, match="shape"):
        GaussianStats("full", np.zeros(3), np.zeros((2, 3)), np.zeros((2, 3, 3)), g.means_,
                      np.zeros(3), 0.0, 1.0)
    with pytest.raises(ValueError, match="finite"):
        GaussianStats("diag", [np.nan, 1.0], np.zeros((2, 3)), np.zeros((2, 3)), g.means_,
                      np.zeros(3), 0.0, 1.0)
    with pytest.raises(ValueError, match="covariance_type"):
        GaussianStats("round", np.ones(2), np.zeros((2, 3)), np.zeros((2, 3)), g.means_,
                      np.zeros(3), 0.0, 1.0)
    with pytest.raises(ValueError, match="trials"):
        BinomialStats(np.ones(2), np.ones((2, 3)), np.zeros((2, 3)), 0.0, 1.0)
    with pytest.raises(ValueError, match="features"):
        bm.m_step(BinomialStats(np.ones(2), np.ones((2, 2)), np.ones((2, 2)), 0.0, 1.0))


def test_a_failed_m_step_changes_nothing():
    g = _fitted("full")
    s = g.e_step_stats(X64)
    # all of one component's weight on a single point: a singular covariance without
    # reg_covar
    bad = GaussianStats("full", [1.0, s.nk[1]], np.zeros((2, 3)), np.stack(
        [np.zeros((3, 3)), s.s2[1]]), s.ref, s.center, s.loglik, s.weight)
    g.set_params(reg_covar=0.0)
    before = {n: getattr(g, n).copy() for n in ("weights_", "means_", "covariances_")}
    with pytest.raises(ValueError):
        g.m_step(bad)
    for name, value in before.items():
        assert np.array_equal(getattr(g, name), value), name


def test_user_arrays_are_copied():
    nk = np.ones(2)
    s = BinomialStats(nk, np.ones((2, 3)), np.full((2, 3), 2.0), -1.0, 2.0)
    nk[0] = 5.0
    assert s.nk[0] == 1.0
    assert repr(s).startswith("BinomialStats(k=2, d=3")


def test_a_chunk_of_zero_weight_adds_nothing():
    g = _fitted("tied")
    zero = g.e_step_stats(X64[:10], sample_weight=np.zeros(10))
    assert zero.weight == 0.0 and np.all(zero.nk == 0.0) and zero.loglik == 0.0
    rest = g.e_step_stats(X64[10:])
    total = zero + rest
    assert np.array_equal(total.s2, rest.s2) and total.weight == rest.weight


def test_the_readme_examples_run(tmp_path, monkeypatch):
    """Every example of the README's "Data larger than memory", in order, in one scope:
    the statistics loop, a memory-mapped file, Dask on a LocalCluster, partial_fit."""
    import pathlib
    import re

    pytest.importorskip("distributed")
    text = (pathlib.Path(__file__).parent.parent / "README.md").read_text()
    start = text.index("## Data larger than memory")
    section = text[start:text.index("\n## ", start + 3)]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 4
    monkeypatch.chdir(tmp_path)  # the file example writes X.npy
    scope = {"__name__": "__main__"}
    for code in blocks:
        exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 - the project's own README
        if "m_step" in code:
            means = np.sort(scope["model"].means_[:, 0])
            assert np.allclose(means, [-4.0, 0.0, 4.0], atol=0.1)
            assert isinstance(scope["stats"], GaussianStats)
    cluster = scope["client"].cluster
    scope["client"].close()
    cluster.close()
    import dask.array as da

    assert isinstance(scope["labels"], da.Array) and scope["labels"].shape == (1_000_000,)
    assert scope["gm"].means_.shape == (3, 4)
    assert np.allclose(np.sort(scope["stream"].means_[:, 0]), [-4.0, 0.0, 4.0], atol=0.1)


# ----------------------------------------------------------------------------- partial_fit
def _stream(rng, n=20_000):
    X = np.concatenate([rng.normal((-5.0, 0.0), 1.0, (n // 2, 2)),
                        rng.normal((2.0, 3.0), (1.0, 0.5), (n // 4, 2)),
                        rng.normal((3.0, -3.0), 0.7, (n - n // 2 - n // 4, 2))])
    return X[rng.permutation(n)]


def test_gaussian_partial_fit_reaches_the_batch_optimum():
    rng = np.random.default_rng(11)
    X = _stream(rng)
    best = GaussianMixture(3, n_init=3, random_state=0).fit(X).score(X)
    online = GaussianMixture(3, random_state=0)
    for _ in range(2):  # two passes over batches of 2,000 rows
        for a in range(0, X.shape[0], 2_000):
            online.partial_fit(X[a:a + 2_000])
    assert online.score(X) >= best - 0.01
    assert online._online[1] == 2 * X.shape[0] // 2_000 - 1  # one fit, then updates


def test_binomial_partial_fit_reaches_the_batch_optimum():
    rng = np.random.default_rng(12)
    n = 20_000
    p = rng.choice([0.15, 0.5, 0.8], size=n, p=[0.5, 0.3, 0.2])
    Cs = rng.binomial(20, np.repeat(p[:, None], 2, axis=1)).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        best = BinomialMixture(3, trials=20, n_init=3, random_state=0).fit(Cs).score(Cs)
        online = BinomialMixture(3, trials=20, random_state=0)
        for _ in range(2):
            for a in range(0, n, 2_000):
                online.partial_fit(Cs[a:a + 2_000])
    assert online.score(Cs) >= best - 0.01


def test_partial_fit_rules():
    rng = np.random.default_rng(13)
    X = _stream(rng, 4_000)
    hard = GaussianMixture(2, mode="hard", random_state=0).partial_fit(X[:2_000])
    hard.partial_fit(X[2_000:])  # the updates are soft EM's
    assert hard._online[1] == 1 and np.all(np.isfinite(hard.means_))
    with pytest.raises(ValueError, match="decay"):
        GaussianMixture(2, decay=0.5).partial_fit(X)
    with pytest.raises(ValueError, match="decay"):
        BinomialMixture(2, decay=1.5).partial_fit(C)
    model = GaussianMixture(2, random_state=0).partial_fit(X[:2_000])
    with pytest.raises(ValueError, match="features"):
        model.partial_fit(X[:100, :1])
    means = model.means_.copy()
    with pytest.raises(ValueError, match="no weight"):
        model.partial_fit(X[:10], sample_weight=np.zeros(10))
    assert np.array_equal(model.means_, means)  # unchanged by the refused batch
    model.partial_fit(X[2_000:])
    assert model._online[1] == 1
    model.fit(X)  # a new fit discards the running statistics ...
    assert not hasattr(model, "_online")
    model.partial_fit(X[:1_000])  # ... and the next batch starts them at the fit
    assert model._online[1] == 0
    assert "decay" in model.get_params()


# ------------------------------------------------------------------ the driver over chunks
def _code(mode):
    from fastem._em import MODES
    from fastem._kernels._common import RANDOM

    return RANDOM if mode == "random" else MODES[mode]


@pytest.mark.parametrize("ct", COVARIANCE_TYPES)
@pytest.mark.parametrize("mode", ["soft", "hard", "stochastic", "random"])
def test_the_e_step_over_chunks_is_the_e_step_over_the_whole(ct, mode):
    """The driver adds its data's chunk statistics: any chunking gives the statistics of
    the whole to rounding, in every mode (random draws are keyed by the global row, hard
    EM's labels are the chunk's slice of the whole data's)."""
    from fastem.gaussian import _Data

    model = _fitted(ct)
    params = model._fitted_params()[0]
    code = _code(mode)  # "random": the random initial responsibilities
    n = X64.shape[0]
    labels = [np.full(n, -1, np.int32) if mode == "hard" else np.empty(0, np.int32)
              for _ in range(2)]
    whole = model._e_step(_Data(X64, W), params, code, 99, 3, labels[0])[0]
    parts = model._e_step(_Data(X64, W, chunk_rows=77), params, code, 99, 3, labels[1])[0]
    for name, value in _fields(parts).items():
        assert _rel(value, _fields(whole)[name]) <= 1e-12, name
    assert parts.n_changed == whole.n_changed
    assert np.array_equal(labels[0], labels[1])
    again = model._e_step(_Data(X64, W, chunk_rows=77), params, code, 99, 3, labels[1].copy())[0]
    for name, value in _fields(parts).items():  # a fixed chunking: the same bits
        assert np.array_equal(value, _fields(again)[name]), name


@pytest.mark.parametrize("mode", ["soft", "hard", "stochastic", "random"])
@pytest.mark.parametrize("per_row_trials", [False, True])
def test_binomial_e_step_over_chunks(mode, per_row_trials):
    from fastem.binomial import _Data

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = BinomialMixture(2, trials=12, max_iter=2, random_state=0).fit(C)
    params = model._fitted_params()
    T = np.full((C.shape[0], 1), 12.0) if per_row_trials else np.full((1, 1), 12.0)
    code = _code(mode)
    labels = [np.full(C.shape[0], -1, np.int32) if mode == "hard" else np.empty(0, np.int32)
              for _ in range(2)]
    whole = model._e_step(_Data(C, T, W), params, code, 5, 2, labels[0])[0]
    parts = model._e_step(_Data(C, T, W, chunk_rows=64), params, code, 5, 2, labels[1])[0]
    for name, value in _fields(parts).items():
        assert _rel(value, _fields(whole)[name]) <= 1e-12, name
    assert np.array_equal(labels[0], labels[1]) and parts.n_changed == whole.n_changed
