"""Gaussian and k-means kernels against the references in tests/reference.py (scipy.stats).

Marked ``kernels`` (also run with NUMBA_DISABLE_JIT=1 in CI): small data only.
"""

import os

import numba
import numpy as np
import pytest

import reference as ref
from conftest import JIT_DISABLED, RTOL, needs_jit
from fastem import kernels as K
from fastem import _passes as kk
from fastem._mstep import cholesky_precision

pytestmark = pytest.mark.kernels

TYPES = ["full", "tied", "diag", "spherical"]
MODES = {"soft": K.SOFT, "hard": K.HARD, "stochastic": K.STOCHASTIC}
LOG_DENSITY = {t: getattr(K, f"gaussian_log_density_{t}") for t in TYPES}
EM_STEP = {t: getattr(K, f"gaussian_em_step_{t}") for t in TYPES}


def problem(ct, dtype, n=60, d=3, k=3, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, size=(k, d))
    X = (centres[rng.integers(0, k, n)] + rng.normal(size=(n, d))).astype(dtype)
    means = centres + rng.normal(0, 0.5, size=(k, d))
    weights = rng.dirichlet(np.ones(k) * 3)
    A = rng.normal(size=(k, d, d))
    full = A @ A.transpose(0, 2, 1) / d + np.eye(d)
    cov = {"full": full, "tied": full[0], "diag": np.diagonal(full, axis1=1, axis2=2).copy(),
           "spherical": full[:, 0, 0].copy()}[ct]
    _, pchol = ref.precisions_from_covariances(cov, ct)
    return X, weights, means, cov, np.ascontiguousarray(pchol)


# d = 9: the full-covariance kernels work in 4 x 4 blocks of features (two blocks here)
# and finish the leftover feature one at a time; d = 3 has no whole block.
FEATURES = [3, 9]


@pytest.mark.parametrize("ct", TYPES)
@pytest.mark.parametrize("d", FEATURES)
def test_log_density_matches_scipy(ct, d, dtype):
    X, _, means, cov, pchol = problem(ct, dtype, d=d)
    got = LOG_DENSITY[ct](X, means, pchol)
    np.testing.assert_allclose(got, ref.gaussian_log_density(X, means, cov, ct), rtol=RTOL)


@pytest.mark.parametrize("ct", TYPES)
@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("d", FEATURES)
def test_em_step_statistics_give_reference_m_step(ct, mode, d, dtype):
    X, weights, means, cov, pchol = problem(ct, dtype, d=d, seed=1)
    n, d = X.shape
    rng = np.random.default_rng(2)
    w = rng.uniform(0, 2, size=n)
    seed, it = 99, 3
    labels = np.full(n, -1, dtype=np.int32)
    nk, s1, s2, ll, changed = EM_STEP[ct](X, w, weights, means, pchol, MODES[mode], seed, it,
                                          labels)
    uniforms = np.array([ref.splitmix_uniform(seed, it, i) for i in range(n)])
    want = ref.gaussian_em_step(X, weights, means, cov, ct, 0.0, mode, sample_weight=w,
                                uniforms=uniforms)
    np.testing.assert_allclose(ll, want["loglik"], rtol=RTOL)
    np.testing.assert_allclose(nk, want["nk"], rtol=RTOL)
    np.testing.assert_array_equal(labels, want["labels"])
    assert changed == n
    # The documented M-step from the statistics reproduces the reference parameters.
    new_means = means + s1 / nk[:, None]
    np.testing.assert_allclose(new_means, want["means"], rtol=RTOL, atol=1e-12)
    delta = s1 / nk[:, None]
    if ct == "full":
        cov_new = (s2 - np.einsum("kj,kl->kjl", s1, delta)) / nk[:, None, None]
    elif ct == "tied":
        z = weights @ means
        a = s1 + nk[:, None] * (means - z)
        v = new_means - z
        cov_new = (s2 - a.T @ v - v.T @ a + (nk[:, None] * v).T @ v) / nk.sum()
    else:
        cov_new = (s2 - s1 * delta) / nk[:, None]
        if ct == "spherical":
            cov_new = cov_new.mean(axis=1)
    np.testing.assert_allclose(cov_new, want["covariances"], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("ct", TYPES)
def test_m_step_kernels_match_reference(ct, dtype):
    """The model's M-step (with reg_covar and the Cholesky factor) vs the reference."""
    from fastem import GaussianMixture
    from fastem.gaussian import _Data

    X, weights, means, cov, pchol = problem(ct, dtype, seed=4)
    gm = GaussianMixture(3, covariance_type=ct, reg_covar=1e-3)
    data_params = gm._params_from_covariances(weights, means, cov)
    stats = gm._pass(_Data(X, np.empty(0)), data_params, K.SOFT, 0, 1, np.empty(0, np.int32))
    new = gm._m_step(data_params, stats)
    want = ref.gaussian_em_step(X, weights, means, cov, ct, 1e-3, "soft")
    np.testing.assert_allclose(new[1], want["means"], rtol=1e-9)
    got_cov = new[2]
    if ct == "tied":
        got_cov = got_cov[0]
    elif ct == "spherical":
        got_cov = got_cov[:, 0]
    np.testing.assert_allclose(got_cov, want["covariances"], rtol=1e-9)
    _, want_pchol = ref.precisions_from_covariances(want["covariances"], ct)
    got_p = new[3][0] if ct == "tied" else (new[3][:, 0] if ct == "spherical" else new[3])
    np.testing.assert_allclose(got_p, want_pchol, rtol=1e-9, atol=1e-12)


def test_cholesky_precision_and_not_positive_definite():
    rng = np.random.default_rng(5)
    A = rng.normal(size=(4, 4))
    cov = A @ A.T + 0.1 * np.eye(4)
    P = np.empty((4, 4))
    ld = cholesky_precision(cov, P)
    _, want = ref.precisions_from_covariances(cov, "tied")
    np.testing.assert_allclose(P, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ld, -0.5 * np.linalg.slogdet(cov)[1], rtol=1e-12)
    assert np.isnan(cholesky_precision(np.ones((3, 3)), np.empty((3, 3))))
    assert np.isnan(cholesky_precision(np.full((2, 2), np.inf), np.empty((2, 2))))


def test_lloyd_pass_matches_reference(dtype):
    rng = np.random.default_rng(6)
    X = rng.normal(size=(80, 2)).astype(dtype)
    centers = rng.normal(size=(4, 2))
    w = rng.uniform(0, 2, size=80)
    labels = np.full(80, -1, dtype=np.int32)
    cnt, sums, inertia, changed = kk.lloyd_pass(X, w, centers, labels, 16)
    want_labels, want_centers, want_inertia = ref.lloyd_step(X, centers, w)
    np.testing.assert_array_equal(labels, want_labels)
    np.testing.assert_allclose(sums / cnt[:, None], want_centers, rtol=RTOL)
    np.testing.assert_allclose(inertia, want_inertia, rtol=RTOL)
    assert changed == 80


def _near_ties(dtype, scale):
    """Rows half-way between two centres but for 1e-9 of their spacing, which float32
    cannot see (the centre 1 - 1e-9 rounds to 1), among ordinary rows; all times
    ``scale`` (a power of 2, so that the tie rows stay exact in float32), at which
    float32 squares may underflow (2^-100) or overflow (2^83)."""
    rng = np.random.default_rng(21)
    centers = np.array([[0.0, 0.0, 0.0], [1.0 - 1e-9, 0.0, 0.0], [3.0, 3.0, 3.0]]) * scale
    ties = np.zeros((40, 3))
    ties[:, 0] = 0.5
    X = np.concatenate([ties, rng.normal(size=(60, 3)) * 2]) * scale
    return X.astype(dtype), centers


@pytest.mark.parametrize("scale", [1.0, 2.0 ** -100, 2.0 ** 83])
def test_lloyd_passes_decide_near_ties_in_float64(dtype, scale):
    """Near ties, at scales where float32 squares would underflow or overflow, get the
    labels of float64 distances in both passes (scores in float32 would give centre 0,
    the first of two equal scores, to the tie rows), and the bounded pass's lower bounds
    hold for them."""
    X, centers = _near_ties(dtype, scale)
    want, _, _ = ref.lloyd_step(X, centers)
    assert np.all(want[:40] == 1)  # the construction: centre 1 is the nearer
    labels = np.full(X.shape[0], -1, dtype=np.int32)
    kk.lloyd_pass(X, np.empty(0), centers, labels, 32)
    np.testing.assert_array_equal(labels, want)
    state = kk.LloydBounds(X.shape[0], 3, 3, 32)
    zero = np.zeros(3)
    state.step(X, np.empty(0), centers, zero, zero)
    _check_bounded_pass(state, X, np.ones(X.shape[0]), centers)
    # the float32 shadow pass cannot see these ties: it must hand the rows to float64
    shadow = kk.LloydShadow(kk.KMeansShadow(X, 32), X.shape[0], 3, 3, 32)
    shadow.step(X, np.empty(0), centers)
    _check_bounded_pass(shadow, X, np.ones(X.shape[0]), centers)
    assert shadow.settled >= 40 if scale == 1.0 else shadow.settled == X.shape[0]


def test_the_shadow_pass_settles_only_what_float32_cannot_prove(dtype):
    """Rows whose two nearest centres differ by more than float32's error bound are
    decided from the float32 copy, the others (exact ties, gaps of 1e-9) in float64; the
    labels are those of float64 scores (ties to the first centre) either way."""
    rng = np.random.default_rng(5)
    centers = np.array([[0.3, 0.1, -0.7, 0.2], [1.9, -0.6, 0.4, 0.9], [9, 9, 0, 0],
                        [-9, 0, 9, 0], [0, -9, 0, 9]]) + rng.normal(scale=0.01, size=(5, 4))
    centers = np.round(centers * 256) / 256  # few bits: the ties below are exact ties
    mid, step = 0.5 * (centers[0] + centers[1]), centers[1] - centers[0]
    X = rng.normal(size=(500, 4)) * 3
    X[:30] = mid  # exact ties between centres 0 and 1 (in float64) ...
    X[30:60] = mid + 1e-9 * step  # ... and rows just nearer 1
    # near ties at random offsets along the bisector, within float32's error of the
    # scores either way (a float32 decision would get about a third of them wrong)
    side = rng.normal(size=(300, 4)) * 2
    side -= np.outer(side @ step / (step @ step), step)
    delta = rng.choice([-1, 1], 300) * 10.0 ** rng.uniform(-9, -6, 300)
    X = np.concatenate([X, mid + side + delta[:, None] * step]).astype(dtype)
    state = kk.LloydShadow(kk.KMeansShadow(X, 64), X.shape[0], 5, 4, 64)
    state.step(X, np.empty(0), centers)
    _check_bounded_pass(state, X, np.ones(X.shape[0]), centers)
    want, _, _ = ref.lloyd_step(X, centers)
    if dtype == np.float64:
        assert np.all(want[:30] == 0) and np.all(want[30:60] == 1)
    assert 60 + 250 <= state.settled < 60 + 300 + 40  # nearly all the near ties


def test_the_shadow_pass_falls_back_beyond_float32s_range():
    """Rows beyond 2^60 and centres whose squares pass 2^100 take float64 scores only:
    the labels of the float64 pass (``lloyd_pass``; the reference's |x - c|^2 cannot
    tell such rows' centres apart)."""
    rng = np.random.default_rng(6)
    X = rng.normal(size=(200, 3))
    X[:10] *= 2.0**70
    for X, centers in ((X, X[[20, 30, 40]].copy()), (X * 2.0**60, X[[20, 30, 40]] * 2.0**60)):
        state = kk.LloydShadow(kk.KMeansShadow(X, 64), X.shape[0], 3, 3, 64)
        state.step(X, np.empty(0), centers)
        want = np.full(X.shape[0], -1, dtype=np.int32)
        kk.lloyd_pass(X, np.empty(0), centers, want, 64)
        np.testing.assert_array_equal(state.labels, want)
        assert state.settled >= 10
    assert state.settled == X.shape[0]  # the second: every centre beyond 2^100


_COMPILE_ONCE = """
import numpy as np
from fastem import _passes as kk
from fastem._kernels import kmeans as km
X = np.random.default_rng(0).normal(size=(100, 3))
centers = X[:3].copy()
kk.lloyd_pass(X, np.empty(0), centers, np.full(100, -1, dtype=np.int32), 32)
state = kk.LloydBounds(100, 3, 3, 32)
zero = np.zeros(3)
state.step(X, np.empty(0), centers, zero, zero)
state.step(X, np.empty(0), centers + 0.5, np.full(3, 0.9), zero)
shadow = kk.LloydShadow(kk.KMeansShadow(X, 32), 100, 3, 3, 32)
shadow.step(X, np.empty(0), centers)
shadow.step(X, np.empty(0), centers + 0.5)
# (_scores32 is inlined into the shadow pass: it has no compiled signature of its own)
print([len(f.signatures) for f in (km._scores, km._transpose, km._settle, km._move,
                                  km._renew, km._place, km._open_block, km._close_block,
                                  km._decide, km._changed, km._ask_rows,
                                  km._settle_chunk)])
"""


@pytest.mark.skipif(JIT_DISABLED, reason="counts compiled signatures")
def test_lloyd_helpers_compile_once(tmp_path):
    """Each helper of the Lloyd passes is compiled once on a cold start (a fresh
    process, an empty cache): a constant argument, or a counter set to 0, typed as a
    literal would compile a helper, and all it calls, a second time."""
    import subprocess
    import sys

    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", _COMPILE_ONCE], env=env, check=True,
                         capture_output=True, text=True).stdout
    assert out.strip() == str([1] * 12)


def test_kmeanspp_picks_distinct_spread_rows():
    rng = np.random.default_rng(7)
    centres = np.array([[0, 0], [50, 0], [0, 50], [50, 50]], dtype=float)
    X = centres[np.repeat(np.arange(4), 25)] + rng.normal(size=(100, 2))
    idx = kk.kmeanspp(X, np.arange(100, dtype=np.int64), np.empty(0), 4, 3, rng.random(10))
    assert len(set(idx // 25)) == 4  # one seed in each far-apart blob


def test_column_moments(dtype):
    rng = np.random.default_rng(8)
    X = (1e4 + rng.normal(size=(50, 3))).astype(dtype)
    w = rng.uniform(0.5, 2, size=50)
    mean, var = kk.column_moments(X, w, 8)
    Xd = X.astype(np.float64)
    np.testing.assert_allclose(mean, np.average(Xd, axis=0, weights=w), rtol=1e-13)
    np.testing.assert_allclose(var, np.average((Xd - mean) ** 2, axis=0, weights=w), rtol=1e-9)


# Every covariance type on float64 and float32 once: each case compiles the whole pass
# kernel into a new function (~25 s cold); both dtypes of every kernel are checked
# against the reference from Python above.
@pytest.mark.parametrize("ct, dtype", [(ct, np.float64) for ct in TYPES] + [("full", np.float32)])
def test_public_gaussian_kernels_from_user_njit(ct, dtype):
    X, weights, means, cov, pchol = problem(ct, dtype, seed=9)
    step, dens = EM_STEP[ct], LOG_DENSITY[ct]

    @numba.njit
    def user(X, weights, means, pchol):
        nk, s1, s2, ll, _ = step(X, np.empty(0), weights, means, pchol, K.HARD, 0, 1,
                                 np.empty(0, np.int32))
        return nk, ll, dens(X, means, pchol)

    nk, ll, logd = user(X, weights, means, pchol)
    want = ref.gaussian_em_step(X, weights, means, cov, ct, 0.0, "hard")
    np.testing.assert_allclose(nk, want["nk"], rtol=RTOL)
    np.testing.assert_allclose(ll, want["loglik"], rtol=RTOL)
    np.testing.assert_allclose(logd, ref.gaussian_log_density(X, means, cov, ct), rtol=RTOL)


@needs_jit
@pytest.mark.parametrize("ct", TYPES)
def test_pass_is_bit_identical_across_thread_counts(ct):
    X, weights, means, cov, pchol = problem(ct, np.float64, n=30000, d=4, k=3, seed=10)
    out = []
    for threads in (1, 2):
        numba.set_num_threads(threads)
        try:
            for mode in MODES.values():
                lab = np.full(len(X), -1, dtype=np.int32)
                out.append(EM_STEP[ct](X, np.empty(0), weights, means, pchol, mode, 3, 1, lab)
                           + (lab,))
        finally:
            numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    for a, b in zip(out[:3], out[3:]):
        for x, y in zip(a, b):
            assert np.array_equal(x, y)


def _check_bounded_pass(state, X, w, centers):
    """After a bounded Lloyd pass at ``centers``: the reference's labels, the counts and
    weighted sums of those labels, and a lower bound that holds."""
    want_labels, _, _ = ref.lloyd_step(X, centers, w)
    np.testing.assert_array_equal(state.labels, want_labels)
    Xd = X.astype(np.float64)
    dist = np.sqrt(((Xd[:, None, :] - centers[None]) ** 2).sum(-1))
    others = dist.copy()
    others[np.arange(X.shape[0]), want_labels] = np.inf
    if state.lower is not None:  # the shadow pass keeps no bounds
        assert np.all(state.lower <= others.min(axis=1))
    cnt, sums = kk.sum_blocks(state.p_cnt), kk.sum_blocks(state.p_sum)
    k = centers.shape[0]
    want_cnt = np.bincount(want_labels, weights=w, minlength=k)
    want_sums = np.stack([(w[want_labels == c, None] * Xd[want_labels == c]).sum(0)
                          for c in range(k)])
    np.testing.assert_allclose(cnt, want_cnt, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sums, want_sums, rtol=1e-12, atol=1e-10)
    assert np.all(cnt[want_cnt == 0] == 0) and np.all(sums[want_cnt == 0] == 0)


@pytest.mark.parametrize("k", [1, 3, 8, 11, 16, 19])
@pytest.mark.parametrize("d,m", [(1, 16), (3, 37), (16, 512), (5, 200)])
def test_float32_scores_match_reference(k, d, m):
    """The shadow pass's float32 scores (16 rows at a time in vector code, the last
    m % 16 through scratch, centres 8 at a time and the rest one by one): the least and
    second least of ||c||^2 - 2 x.c within float32 rounding of the float64 values, and
    the first centre of the least wherever the float64 gap is beyond that rounding; of
    two equal centres the first is picked, the second least then equal to the least;
    nothing written past the chunk's last group of 16 rows."""
    from fastem._kernels import kmeans as km

    rng = np.random.default_rng(15 + k + d)
    n = m + 21
    XT = rng.normal(size=(d, n)).astype(np.float32)
    C = rng.normal(size=(k, d))
    if k > 1:
        C[k - 1] = C[0]  # a tie: the first of the two is the pick, the gap 0
    M2 = (-2 * C).astype(np.float32)
    cn = (C ** 2).sum(axis=1).astype(np.float32)
    lo = 5
    XT[:, lo + m - 1] = C[0]  # a row at centre 0 (the last row: in the scratch if any)
    best, second, pick = (np.full(512, np.nan, dtype=np.float32) for _ in range(3))
    T = np.empty((d, 16), dtype=np.float32)
    # the next chunk's rows asked for too, up to and past the end of the data (a hint:
    # none beyond the last row is asked for), and the float64 rows of a listed few (the
    # last row of the data among them)
    XD = rng.normal(size=(n, d))
    pf = np.array([0, 3, n - 1 - lo], dtype=np.int64)
    km._scores32(XT, lo, m, M2, cn, T, best, second, pick, lo + m, np.zeros(n),
                 np.zeros(n, dtype=np.int32), pf, len(pf), XD.ctypes.data + lo * 8 * d,
                 8 * d)
    S = cn.astype(np.float64)[None, :] + XT[:, lo:lo + m].T.astype(np.float64) @ M2.T.astype(
        np.float64)
    srt = np.sort(S, axis=1)
    tol = 1e-5 * (1 + np.abs(S).max(axis=1))
    assert np.all(np.abs(best[:m] - srt[:, 0]) <= tol)
    if k > 1:
        assert np.all(np.abs(second[:m] - srt[:, 1]) <= tol)
        # the tie of centres 0 and k - 1: where it is the least, centre 0 is the pick
        # and the second least equals the least
        assert np.all(pick[:m] != k - 1)
        at0 = pick[:m] == 0
        assert at0.any() and np.all(best[:m][at0] == second[:m][at0])
    else:
        assert np.all(np.isinf(second[:m]))
    clear = (srt[:, 1] - srt[:, 0] > 2 * tol) if k > 1 else np.ones(m, dtype=bool)
    np.testing.assert_array_equal(pick[:m][clear], S.argmin(axis=1)[clear])
    assert np.all(np.isnan(best[m:]) | (np.arange(m, 512) < m + (-m) % 16))


@pytest.mark.parametrize("order", ["C", "F"])
def test_finite_check_finds_the_first_bad_cell(dtype, order):
    """The first NaN or infinite cell in row-major order, over many blocks (9000 rows:
    blocks of 4096), in any layout; (-1, -1) for finite data, huge and tiny values
    included."""
    rng = np.random.default_rng(14)
    X = rng.normal(size=(9000, 3)).astype(dtype)
    X[5, 0] = np.finfo(dtype).max
    X[6, 1] = np.finfo(dtype).tiny / 2  # subnormal
    X[7, 2] = -np.finfo(dtype).max
    assert kk.check_finite(np.asarray(X, order=order)) == (-1, -1)
    for cells in ([(8999, 2)], [(4100, 1), (8000, 0)], [(4096, 2), (4096, 0)],
                  [(3, 1), (4095, 2)]):
        Y = X.copy()
        for (i, j), v in zip(cells, [np.nan, np.inf, -np.inf]):
            Y[i, j] = v
        want = tuple(int(a) for a in np.argwhere(~np.isfinite(Y))[0])
        assert kk.check_finite(np.asarray(Y, order=order)) == want


def test_float32_copy_and_row_norm_bounds(dtype):
    """The shadow copy is X transposed and rounded to float32, over blocks that do not
    divide the rows; each row's norm bound is at least its float64 norm and within 1e-12
    of it, and inf for a row with a value beyond 2**60."""
    rng = np.random.default_rng(13)
    X = rng.normal(size=(101, 5)) * np.logspace(-30, 30, 101)[:, None]
    X[7, 2] = 2.0**61
    X[9, 0] = -(2.0**61)
    if dtype == np.float64:
        X[11, 4] = 1e300
    X = X.astype(dtype)
    sh = kk.KMeansShadow(X, 16)
    with np.errstate(over="ignore"):  # 1e300: inf in float32 and squared
        np.testing.assert_array_equal(sh.XT32, X.T.astype(np.float32))
        norm = np.sqrt((X.astype(np.float64) ** 2).sum(axis=1))
    far = np.abs(X.astype(np.float64)).max(axis=1) > 2.0**60
    assert far[[7, 9]].all() and 10 < far.sum() < 60  # the construction: both kinds
    assert np.all(np.isinf(sh.rn[far]))
    assert np.all(sh.rn[~far] >= norm[~far])
    np.testing.assert_allclose(sh.rn[~far], norm[~far], rtol=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
def test_inertia_pass_matches_reference(dtype, weighted):
    """The inertia of given labels (not necessarily the nearest centres), over blocks
    that do not divide the rows, against the reference's sum at the nearest centres and
    a direct NumPy sum at shuffled labels; unchanged by the thread count."""
    rng = np.random.default_rng(12)
    X = (rng.normal(size=(203, 5)) * 3 + 1e3).astype(dtype)
    centers = X[:4].astype(np.float64) + 0.25
    w = rng.uniform(0.0, 2.0, size=203) if weighted else np.empty(0)
    labels, _, want = ref.lloyd_step(X, centers, w if weighted else None)
    labels = labels.astype(np.int32)
    got = kk.inertia(X, w, centers, labels, 32)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    other = rng.permutation(labels).astype(np.int32)
    diff = X.astype(np.float64) - centers[other]
    ww = w if weighted else np.ones(203)
    np.testing.assert_allclose(kk.inertia(X, w, centers, other, 32),
                               ww @ (diff * diff).sum(axis=1), rtol=1e-12)
    numba.set_num_threads(1)
    try:
        assert kk.inertia(X, w, centers, labels, 32) == got
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)


@pytest.mark.parametrize("shadow,block", [(False, 64), (True, 64), (True, 1400)])
@pytest.mark.parametrize("k", [1, 3, 6])
def test_bounded_lloyd_pass_matches_reference(dtype, k, shadow, block):
    """Passes after arbitrary moves of the centres (small steps, one centre jumping far,
    two centres made equal, all back to the start): every pass gives the labels of the
    nearest centres, their sums kept by moving only the rows that changed, and lower
    bounds that stay bounds.  Some rows have weight 0.  Blocks of 64 rows, or of 1400
    (the shadow pass: chunks of 512, 512 and 376 rows, each chunk's moves and settled
    rows made after the next chunk's scores, the last chunk's at the block's end; a
    last block of 220)."""
    from fastem.kmeans import _moves

    rng = np.random.default_rng(11 + k)
    n = 300 if block == 64 else 3000
    X = np.concatenate([rng.normal(size=(n, 3)) * 2, np.zeros((20, 3))]).astype(dtype)
    w = rng.uniform(0, 2, size=X.shape[0])
    w[::17] = 0.0
    state = (kk.LloydShadow(kk.KMeansShadow(X, block), X.shape[0], k, 3, block) if shadow
             else kk.LloydBounds(X.shape[0], k, 3, block))
    start = rng.normal(size=(k, 3))
    centers = start.copy()
    zero = np.zeros(k)
    changed = state.step(X, w, centers, zero, zero)[2]
    assert changed == X.shape[0]
    _check_bounded_pass(state, X, w, centers)
    moves = [lambda c: c + rng.normal(scale=0.05, size=c.shape) for _ in range(4)]
    moves.append(lambda c: c + np.eye(k, 3) * 8.0)
    if k > 1:
        moves.append(lambda c: np.concatenate([c[1:2], c[1:]]))
    moves.append(lambda c: start.copy())
    settled = []
    for move in moves:
        new = move(centers)
        before = state.labels.copy()
        changed = state.step(X, w, new, *_moves(centers, new))[2]
        centers = new
        _check_bounded_pass(state, X, w, centers)
        assert changed == int(np.sum(before != state.labels))
        settled.append(state.settled)
    if shadow:  # float32 decides nearly every row (not those of two equal centres)
        assert max(settled[:5]) < X.shape[0] // 10
    else:
        assert min(settled[:4]) < X.shape[0] // 2  # small steps keep most rows unscored
