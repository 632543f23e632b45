"""The missing-data Gaussian kernel (``_kernels.gaussian_missing``, run by
``_passes.gauss_missing_pass`` / ``gauss_missing_rows``) against the slow per-row
references of tests/reference.py, on float32 and float64, for every precision form and
mode; and the pattern plan it runs on.

Marked ``kernels`` (also run with NUMBA_DISABLE_JIT=1 in CI): small data only."""

import numpy as np
import pytest

import reference as ref
from fastem import _passes as P
from fastem._kernels._common import FIXED, HARD, RANDOM, SOFT, STOCHASTIC
from fastem._missing import MissingPlan

pytestmark = pytest.mark.kernels

K, D = 3, 4
FORMS = {"full": "full", "tied": "tied", "diag": "diag", "spherical": "diag"}


def _data(seed, n=150, frac=0.3, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, D)) @ rng.normal(size=(D, D)) + rng.normal(0, 2, (1, D))
    X[rng.random((n, D)) < frac] = np.nan
    X[np.isnan(X).all(axis=1), 1] = 0.25
    return X.astype(dtype)


def _params(seed, ct):
    rng = np.random.default_rng(seed + 100)
    weights = rng.dirichlet(np.full(K, 3.0))
    means = rng.normal(0, 1.5, (K, D))
    A = rng.normal(size=(K, D, D))
    full = A @ A.transpose(0, 2, 1) + 0.5 * np.eye(D)
    cov = {"full": full, "tied": full[0], "diag": rng.uniform(0.5, 3.0, (K, D)),
           "spherical": rng.uniform(0.5, 3.0, K)}[ct]
    # the kernel's shapes: (k, d, d), (1, d, d), (k, d) variances (spherical repeated)
    kcov = {"full": full, "tied": full[:1], "diag": cov,
            "spherical": np.repeat(cov[:, None], D, axis=1)}[ct]
    return weights, means, cov, kcov


def _expected_stats(X, R, means, cov, ct, center):
    """The statistics from the formulas, row by row: nk, s1 about the means, s2 (full:
    per component about its mean; tied: about ``center``; diag/spherical: squares)."""
    X = np.asarray(X, np.float64)
    n = X.shape[0]
    covs = ref.full_covariances(cov, ct, K, D)
    nk = R.sum(axis=0)
    s1 = np.zeros((K, D))
    s2 = np.zeros((K, D, D))
    tied = np.zeros((D, D))
    for i in range(n):
        for c in range(K):
            xh, C = ref.missing_conditional(X[i], means[c], covs[c])
            e = xh - means[c]
            s1[c] += R[i, c] * e
            s2[c] += R[i, c] * (np.outer(e, e) + C)
            f = xh - center
            tied += R[i, c] * (np.outer(f, f) + C)
    if ct == "tied":
        return nk, s1, tied
    if ct in ("diag", "spherical"):
        return nk, s1, np.stack([np.diag(s) for s in s2])
    return nk, s1, s2


def _run(X, w, weights, means, kcov, ct, mode, seed=7, stream=3, labels=None, block=64,
         row0=0):
    plan = MissingPlan.of(X)
    labels = P.EMPTY_I32 if labels is None else labels
    center = weights @ means
    nk, s1, s2, sq, ll, ch = P.gauss_missing_pass(
        X, w, plan, np.log(weights), means, kcov, FORMS[ct], mode, seed, stream, labels, block,
        center, row0)
    return nk, s1, (s2[0] if ct == "tied" else (sq if FORMS[ct] == "diag" else s2)), ll, ch


@pytest.fixture(params=[np.float32, np.float64], ids=["float32", "float64"])
def dtype(request):
    return request.param


def _tol(dtype):
    return 1e-10 if dtype == np.float64 else 1e-10  # float32 data, float64 arithmetic


@pytest.mark.parametrize("ct", ["full", "tied", "diag", "spherical"])
def test_rows_match_the_reference(ct, dtype):
    X = _data(1, dtype=dtype)
    weights, means, cov, kcov = _params(1, ct)
    X[3] = np.nan  # a row with nothing observed: the weights, and log-likelihood 0
    n = X.shape[0]
    out_ll, out_resp, out_lab = np.empty(n), np.empty((n, K)), np.empty(n, np.int64)
    P.gauss_missing_rows(X, MissingPlan.of(X), np.log(weights), means, kcov, FORMS[ct],
                         out_ll, out_resp, out_lab)
    X64 = X.astype(np.float64)  # the same values: the reference sees exactly X
    want_ll = ref.missing_loglik_rows(X64, weights, means, cov, ct)
    want_resp = ref.missing_responsibilities(X64, weights, means, cov, ct)
    np.testing.assert_allclose(out_ll, want_ll, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out_resp, want_resp, rtol=1e-11, atol=1e-13)
    np.testing.assert_array_equal(out_lab, np.argmax(ref.missing_log_density(
        X64, means, cov, ct) + np.log(weights), axis=1))
    assert out_ll[3] == 0.0
    np.testing.assert_allclose(out_resp[3], weights, rtol=1e-14)


@pytest.mark.parametrize("ct", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("weighted", [False, True])
def test_soft_statistics_match_the_formulas(ct, weighted, dtype):
    X = _data(2, dtype=dtype)
    n = X.shape[0]
    w = np.random.default_rng(5).uniform(0.1, 2.0, n) if weighted else P.EMPTY_F64
    weights, means, cov, kcov = _params(2, ct)
    nk, s1, s2, ll, _ = _run(X, w, weights, means, kcov, ct, SOFT)
    X64 = X.astype(np.float64)
    wr = np.ones(n) if not weighted else w
    R = wr[:, None] * ref.missing_responsibilities(X64, weights, means, cov, ct)
    enk, es1, es2 = _expected_stats(X64, R, means, cov, ct, weights @ means)
    np.testing.assert_allclose(nk, enk, rtol=1e-11)
    np.testing.assert_allclose(s1, es1, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(s2, es2, rtol=1e-10, atol=1e-9)
    assert ll == pytest.approx(float(wr @ ref.missing_loglik_rows(X64, weights, means, cov,
                                                                  ct)), rel=1e-12)


@pytest.mark.parametrize("ct", ["full", "diag"])
@pytest.mark.parametrize("mode", [HARD, STOCHASTIC, FIXED, RANDOM])
def test_one_hot_and_random_modes_match_the_formulas(ct, mode, dtype):
    X = _data(3, dtype=dtype)
    n = X.shape[0]
    weights, means, cov, kcov = _params(3, ct)
    X64 = X.astype(np.float64)
    resp = ref.missing_responsibilities(X64, weights, means, cov, ct)
    seed, stream, row0 = 11, 2, 1000  # a chunk that starts at row 1000 of the data
    labels = np.full(n, -1, np.int32)
    if mode == FIXED:
        labels = np.random.default_rng(0).integers(0, K, n).astype(np.int32)
    given = labels.copy()
    nk, s1, s2, ll, ch = _run(X, P.EMPTY_F64, weights, means, kcov, ct, mode, seed, stream,
                              labels, row0=row0)
    if mode == HARD:
        pick = np.argmax(ref.missing_log_density(X64, means, cov, ct) + np.log(weights), axis=1)
    elif mode == STOCHASTIC:
        u = np.array([ref.splitmix_uniform(seed, stream, row0 + i) for i in range(n)])
        pick = np.minimum((np.cumsum(resp, axis=1) <= u[:, None]).sum(axis=1), K - 1)
    elif mode == FIXED:
        pick = given
    if mode == RANDOM:
        U = np.array([[ref.splitmix_open_uniform(seed, stream, (row0 + i) * K + c)
                       for c in range(K)] for i in range(n)])
        R = U / U.sum(axis=1, keepdims=True)
    else:
        R = np.eye(K)[pick]
    enk, es1, es2 = _expected_stats(X64, R, means, cov, ct, weights @ means)
    np.testing.assert_allclose(nk, enk, rtol=1e-12)
    np.testing.assert_allclose(s1, es1, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(s2, es2, rtol=1e-10, atol=1e-9)
    if mode == HARD:
        np.testing.assert_array_equal(labels, pick)
        assert ch == n  # from -1, every row changed
    elif mode == FIXED:
        np.testing.assert_array_equal(labels, given)  # read, not written


def test_the_bits_do_not_depend_on_threads_or_block_size_of_the_caller(monkeypatch):
    X = _data(4, n=600)
    weights, means, cov, kcov = _params(4, "full")
    monkeypatch.setenv("FASTEM_SERIAL", "1")
    one = _run(X, P.EMPTY_F64, weights, means, kcov, "full", SOFT, block=64)
    monkeypatch.setenv("FASTEM_SERIAL", "0")
    many = _run(X, P.EMPTY_F64, weights, means, kcov, "full", SOFT, block=64)
    for a, b in zip(one, many):
        assert np.array_equal(a, b)


def test_the_plan_cuts_patterns_at_block_edges():
    X = _data(5, n=300)
    plan = MissingPlan.of(X)
    seg, blk = plan.segments(64)
    rows = plan.index.rows
    assert blk[0] == 0 and blk[-1] == seg.shape[0] and np.all(np.diff(blk) >= 0)
    assert seg[0, 0] == 0 and seg[-1, 1] == X.shape[0] and np.all(seg[1:, 0] == seg[:-1, 1])
    for b in range(blk.shape[0] - 1):  # each block covers positions [64 b, 64 (b + 1))
        inner = seg[blk[b]:blk[b + 1]]
        assert np.all(inner[:, 0] >= 64 * b) and np.all(inner[:, 1] <= 64 * (b + 1))
    for lo, hi, p in seg:  # every row of a segment has the segment's pattern
        miss = np.isnan(X[rows[lo:hi]])
        assert np.array_equal(miss, np.broadcast_to(plan.index.patterns[p], miss.shape))
        observed = plan.perm[p, :plan.n_obs[p]]
        assert np.array_equal(observed, np.flatnonzero(~plan.index.patterns[p]))


def test_imputation_matches_the_conditional_expectation(dtype):
    X = _data(6, dtype=dtype)
    weights, means, cov, kcov = _params(6, "full")
    out = X.astype(np.float64)
    P.gauss_missing_rows(X, MissingPlan.of(X), np.log(weights), means, kcov, "full",
                         P.EMPTY_F64, np.zeros((0, 0)), P.EMPTY_I64, out)
    X64 = X.astype(np.float64)
    resp = ref.missing_responsibilities(X64, weights, means, cov, "full")
    want = np.zeros_like(X64)
    for i in range(X.shape[0]):
        for c in range(K):
            want[i] += resp[i, c] * ref.missing_conditional(X64[i], means[c], cov[c])[0]
    seen = ~np.isnan(X64)
    assert np.array_equal(out[seen], X64[seen])
    np.testing.assert_allclose(out, want, rtol=1e-11, atol=1e-11)
