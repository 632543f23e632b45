"""Binomial kernels against the slow references in tests/reference.py.

Marked ``kernels``: CI also runs this file with NUMBA_DISABLE_JIT=1 so the kernel bodies
are exercised as plain Python.  Data are kept small for that reason.
"""

import numba
import numpy as np
import pytest

import reference as ref
from conftest import RTOL, needs_jit
from fastem import kernels as K
from fastem import _passes as passes
from fastem._kernels._common import CHUNK, RANDOM, STOCHASTIC
from fastem._kernels.gaussian import PIECES
from fastem._kernels.rng import GAMMA, bits_at, mix64, uniform

pytestmark = pytest.mark.kernels

EMPTY_W = np.empty(0)
EMPTY_L = np.empty(0, dtype=np.int32)


def make_data(rng, n, d, k, dtype, trials_kind):
    shapes = {"scalar": (1, 1), "row": (n, 1), "col": (1, d), "cell": (n, d)}
    T = rng.integers(1, 15, size=shapes[trials_kind]).astype(dtype)
    X = rng.binomial(np.broadcast_to(T, (n, d)).astype(int), rng.uniform(0.1, 0.9, size=d))
    probs = rng.uniform(0.05, 0.95, size=(k, d))
    weights = rng.dirichlet(np.ones(k))
    return X.astype(dtype), T, weights, probs


@pytest.mark.parametrize("trials_kind", ["scalar", "row", "col", "cell"])
def test_log_density_matches_scipy(dtype, trials_kind):
    rng = np.random.default_rng(0)
    X, T, _, probs = make_data(rng, 40, 3, 4, dtype, trials_kind)
    got = K.binomial_log_density(X, T, probs)
    want = ref.binomial_log_density(X, np.broadcast_to(T, X.shape), probs)
    assert got.dtype == np.float64 and got.shape == (40, 4)
    np.testing.assert_allclose(got, want, rtol=RTOL)


def test_log_coef_sum_matches_gammaln(dtype):
    rng = np.random.default_rng(1)
    X, T, _, _ = make_data(rng, 30, 2, 2, dtype, "cell")
    w = rng.uniform(0, 2, size=30)
    got = K.binomial_log_coef_sum(X, T, w)
    want = np.sum(w * ref.binomial_log_coef(X, T))
    np.testing.assert_allclose(got, want, rtol=RTOL)
    np.testing.assert_allclose(
        K.binomial_log_coef_sum(X, T, EMPTY_W), ref.binomial_log_coef(X, T).sum(), rtol=RTOL
    )


@pytest.mark.parametrize("mode", ["soft", "hard", "stochastic"])
@pytest.mark.parametrize("weighted", [False, True])
def test_em_step_matches_reference(dtype, mode, weighted):
    rng = np.random.default_rng(2)
    n, d, k = 50, 3, 3
    X, T, weights, probs = make_data(rng, n, d, k, dtype, "row")
    w = rng.uniform(0, 3, size=n) if weighted else EMPTY_W
    seed, it = 12345, 7
    code = {"soft": K.SOFT, "hard": K.HARD, "stochastic": K.STOCHASTIC}[mode]
    labels = np.full(n, -1, dtype=np.int32)
    nk, sx, st, ll, changed = K.binomial_em_step(
        X, T, w, weights, probs, code, seed, it, labels
    )
    uniforms = np.array([ref.splitmix_uniform(seed, it, i) for i in range(n)])
    want = ref.binomial_em_step(
        X, T, weights, probs, mode, sample_weight=w if weighted else None, uniforms=uniforms
    )
    np.testing.assert_allclose(nk, want["nk"], rtol=RTOL)
    np.testing.assert_allclose(sx, want["sum_x"], rtol=RTOL)
    np.testing.assert_allclose(st, want["sum_t"], rtol=RTOL)
    coef = K.binomial_log_coef_sum(X, T, w)
    np.testing.assert_allclose(ll + coef, want["loglik"], rtol=RTOL)
    assert changed == n
    np.testing.assert_array_equal(labels, want["labels"])
    # A second pass at the same parameters changes no label.
    assert K.binomial_em_step(X, T, w, weights, probs, code, seed, it, labels)[4] == 0


def test_stochastic_draws_depend_on_seed_and_iteration():
    rng = np.random.default_rng(3)
    X, T, weights, probs = make_data(rng, 200, 1, 2, np.float64, "scalar")
    probs = np.array([[0.45], [0.55]])  # overlapping: posteriors far from 0/1

    def labels_for(seed, it):
        lab = np.full(200, -1, dtype=np.int32)
        K.binomial_em_step(X, T, EMPTY_W, weights, probs, K.STOCHASTIC, seed, it, lab)
        return lab

    a = labels_for(1, 1)
    np.testing.assert_array_equal(a, labels_for(1, 1))
    assert np.any(a != labels_for(2, 1))
    assert np.any(a != labels_for(1, 2))


@pytest.mark.parametrize("row", [[1.0, 0.5, 0.0, 0.0], [1.0, 0.0, 0.5, 0.0],
                                 [0.0, 1.0, 0.0, 0.0], [0.5, 0.0, 0.0, 1.0]])
def test_stochastic_pick_never_lands_on_a_zero_weight(row):
    """When rounding leaves u * (row sum) at or past the running total, the draw falls
    back to the last component of positive weight (never one of weight 0).  A row sum
    far above the total of the weights forces that case for every uniform."""
    k, m = len(row), 8
    L = np.zeros((k, CHUNK))
    L[:, :m] = np.array(row)[:, None]
    acc = np.full(CHUNK, 1e300)
    mx, cum = np.zeros(CHUNK), np.empty(CHUNK)
    pick = np.empty(CHUNK, dtype=np.int64)
    labels = np.full(m, -1, dtype=np.int32)
    lost = np.zeros(CHUNK, dtype=np.int64)
    # the piece as the kernels get it: compiled for its one signature
    weights = PIECES["weights"].compiled()
    weights(L, m, k, 0, EMPTY_W, False, STOCHASTIC, 5, 1, labels, True, mx, acc, cum, pick,
            lost, 0, 0)
    want = max(c for c in range(k) if row[c] > 0)
    np.testing.assert_array_equal(labels, want)
    np.testing.assert_array_equal(L[:, :m], np.eye(k)[want][:, None].repeat(m, axis=1))


def test_random_responsibilities_are_a_partition(dtype):
    rng = np.random.default_rng(4)
    n, k = 60, 5
    X, T, weights, probs = make_data(rng, n, 2, k, dtype, "scalar")
    nk, sx, st, _, _ = passes.binomial_pass(
        X, T, EMPTY_W, np.log(weights), probs, RANDOM, 9, 0, EMPTY_L, 16
    )
    # Row i's responsibilities are its k documented open uniforms, normalised.
    U = np.array([[ref.splitmix_open_uniform(9, 0, i * k + c) for c in range(k)]
                  for i in range(n)])
    R = U / U.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(nk, R.sum(axis=0), rtol=RTOL)
    np.testing.assert_allclose(sx, R.T @ X.astype(np.float64), rtol=RTOL)
    np.testing.assert_allclose(nk.sum(), n, rtol=RTOL)
    assert np.ptp(nk) > 0  # random, not uniform


def test_rows_kernel_matches_reference(dtype):
    rng = np.random.default_rng(5)
    X, T, weights, probs = make_data(rng, 45, 2, 3, dtype, "cell")
    n, k = 45, 3
    ll, resp, lab = np.empty(n), np.empty((n, k)), np.empty(n, dtype=np.int64)
    logd = np.empty((n, k))
    passes.binomial_rows(X, T, np.log(weights), probs, True, ll, resp, lab, logd)
    want = ref.binomial_em_step(X, T, weights, probs, "soft")
    np.testing.assert_allclose(
        logd, np.log(weights) + ref.binomial_log_density(X, np.broadcast_to(T, X.shape), probs),
        rtol=RTOL)
    np.testing.assert_allclose(ll, want["log_resp_norm"], rtol=RTOL)
    np.testing.assert_allclose(resp, want["resp"], rtol=RTOL, atol=1e-300)
    np.testing.assert_allclose(resp.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(lab, want["labels"])


def test_mstep_keeps_empty_component_and_clips():
    probs = np.array([[0.3, 0.4], [0.6, 0.7]])
    weights = np.array([0.5, 0.5])
    nk = np.array([4.0, 0.0])
    sx = np.array([[4.0, 0.0], [0.0, 0.0]])
    st = np.array([[4.0, 4.0], [0.0, 0.0]])
    empty = passes.binomial_mstep(nk, sx, st, weights, probs, 1e-10, True)  # its one signature
    assert empty == 1
    np.testing.assert_array_equal(weights, [1.0, 0.0])
    np.testing.assert_array_equal(probs, [[1 - 1e-10, 1e-10], [0.6, 0.7]])


def test_splitmix_known_answers():
    u = np.uint64
    # Vigna's published SplitMix64 outputs from state 0, then the same from other states.
    assert [int(bits_at(u(0), j)) for j in range(4)] == [
        0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F, 0xF88BB8A8724C81EC]
    assert [int(bits_at(u(2**64 - 5), j)) for j in range(3)] == ref.splitmix64(2**64 - 5, 3)
    assert int(mix64(u(12345) + GAMMA)) == ref.splitmix64(12345, 1)[0]
    for seed, stream, row in [(0, 1, 0), (2**40 + 3, 5, 2**33 + 1), (7, 2**35, 99),
                              (2**63 - 1, 0, 2**62)]:
        assert uniform(seed, stream, row) == ref.splitmix_uniform(seed, stream, row)


@pytest.mark.parametrize(
    "X, T, code",
    [
        ([[1.0], [np.nan]], [[5.0]], 1),
        ([[1.0], [-1.0]], [[5.0]], 2),
        ([[1.5]], [[5.0]], 3),
        ([[1.0]], [[np.inf]], 4),
        ([[0.0]], [[0.0]], 5),
        ([[1.0]], [[2.5]], 6),
        ([[6.0]], [[5.0]], 7),
        ([[5.0], [0.0]], [[5.0]], 0),
    ],
)
def test_check_counts_reports_first_problem(X, T, code):
    got = passes.check_counts(np.array(X), np.array(T))
    assert got[0] == code


def test_public_kernels_callable_from_user_njit(dtype):
    """A user's own @njit loop drives EM with the public kernels."""

    @numba.njit
    def user_em(X, T, n_iter):
        w = np.array([0.5, 0.5])
        p = np.array([[0.6], [0.5]])
        labels = np.empty(0, dtype=np.int32)
        lls = np.empty(n_iter)
        for it in range(n_iter):
            nk, sx, st, ll, _ = K.binomial_em_step(X, T, np.empty(0), w, p, K.SOFT, 0, it, labels)
            lls[it] = ll + K.binomial_log_coef_sum(X, T, np.empty(0))
            p = sx / st
        return p, lls, K.binomial_log_density(X, T, p)

    X = np.array([[5], [9], [8], [4], [7]], dtype=dtype)
    T = np.full((1, 1), 10, dtype=dtype)
    p, lls, dens = user_em(X, T, 10)
    hist = ref.binomial_em(X, 10, np.array([0.5, 0.5]), np.array([[0.6], [0.5]]), 10,
                           fit_weights=False)
    np.testing.assert_allclose(p, hist[-1][1], rtol=RTOL)
    np.testing.assert_allclose(lls / 5, [h[2] for h in hist], rtol=RTOL)
    np.testing.assert_allclose(dens, ref.binomial_log_density(X, 10, p), rtol=RTOL)


@needs_jit
@pytest.mark.parametrize("mode", [K.SOFT, K.HARD, K.STOCHASTIC])
def test_pass_is_bit_identical_across_thread_counts(mode):
    rng = np.random.default_rng(6)
    X, T, weights, probs = make_data(rng, 20000, 2, 3, np.float64, "row")
    w = rng.uniform(0, 2, size=20000)
    results = []
    for threads in (1, 2):
        numba.set_num_threads(threads)
        try:
            lab = np.full(20000, -1, dtype=np.int32)
            results.append(
                passes.binomial_pass(X, T, w, np.log(weights), probs, mode, 5, 1, lab, 512) + (lab,)
            )
        finally:
            numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    for a, b in zip(*results):
        assert np.array_equal(a, b)
