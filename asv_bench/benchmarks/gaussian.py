"""Gaussian mixtures: fastem.GaussianMixture against sklearn.mixture.GaussianMixture.

Every benchmark that compares the two starts both from the *same* parameters
(``weights_init``, ``means_init``, ``precisions_init`` derived from the true generating
parameters, see ``common.gaussian_init``) with ``tol=0`` and a fixed ``max_iter``, so
both do the same number of EM iterations and no k-means runs inside a timing.  The one
exception is ``GaussianDefaultFit``, which is a whole fit with each library's defaults.
"""

import os
import subprocess
import sys
import time

import numpy as np

from . import common as C
from .common import (
    COVARIANCE_TYPES,
    DTYPES,
    IMPLEMENTATIONS,
    MODES,
    SHAPE_IDS,
    best_of,
    gaussian_blobs,
    gaussian_estimator,
    parse_shape,
    quiet_fit,
    require,
    warm_gaussian,
)


def _data(shape, dtype):
    n, d, k = parse_shape(shape)
    X, _ = gaussian_blobs(n, d, k, dtype)
    return X, d, k


def _fitted_on_slice(implementation, X, k, covariance_type, mode="soft"):
    """An estimator fitted (1 iteration from the true parameters) on the first rows of
    ``X``: its parameters are the truth up to noise; cheap whatever the size of ``X``."""
    d = X.shape[1]
    est = gaussian_estimator(implementation, d, k, covariance_type, mode=mode, max_iter=1)
    return quiet_fit(est, X[: max(20 * k, 20_000)])


def fastem_seconds_per_iteration(X, k, covariance_type, max_iter, mode="soft", repeat=3,
                                 budget=60.0, min_time=1.0, max_repeat=50):
    """Per-iteration seconds of fastem's ``fit``, without the fixed per-fit costs.

    Times ``fit`` with ``max_iter=1`` and with ``max_iter=max_iter`` (``tol=0``, true
    parameters as the start), best of ``repeat`` each, or of more (up to ``max_repeat``)
    while less than ``min_time`` seconds are spent: a sub-millisecond iteration is the
    difference of two short timings and needs more samples than three.  Stops early
    once ``budget`` seconds are spent.  Returns (best_hi - best_lo) / (n_iter_hi -
    n_iter_lo) with the estimators' own ``n_iter_`` (hard EM may stop before
    ``max_iter``).
    """
    d = X.shape[1]
    lo = gaussian_estimator("fastem", d, k, covariance_type, mode=mode, max_iter=1)
    hi = gaussian_estimator("fastem", d, k, covariance_type, mode=mode, max_iter=max_iter)
    t_lo = t_hi = np.inf
    start = time.perf_counter()
    for i in range(max_repeat):
        t0 = time.perf_counter()
        quiet_fit(lo, X)
        t1 = time.perf_counter()
        quiet_fit(hi, X)
        t2 = time.perf_counter()
        t_lo, t_hi = min(t_lo, t1 - t0), min(t_hi, t2 - t1)
        if t2 - start > budget or (i + 1 >= repeat and t2 - start > min_time):
            break
    n_lo, n_hi = lo.n_iter_, hi.n_iter_
    per = (t_hi - t_lo) / (n_hi - n_lo) if n_hi > n_lo else np.nan
    if not per > 0:  # noise larger than the iterations themselves
        per = t_hi / n_hi
    return per


def sklearn_seconds_per_iteration(X, k, covariance_type, repeat=3, budget=20.0, min_time=1.0,
                                  max_repeat=50):
    """Per-iteration seconds of scikit-learn's soft EM: exactly what its ``fit`` loop does
    per iteration (``_e_step`` then ``_m_step``; the lower bound is a scalar), timed
    directly on the full ``X``, best of ``repeat`` (fewer once ``budget`` s are spent;
    more, up to ``max_repeat``, while less than ``min_time`` s are spent).
    Uses scikit-learn's private methods; falls back to timing whole fits if they move."""
    est = _fitted_on_slice("sklearn", X, k, covariance_type)
    if not (hasattr(est, "_e_step") and hasattr(est, "_m_step")):  # pragma: no cover
        d = X.shape[1]
        m = 5
        lo = gaussian_estimator("sklearn", d, k, covariance_type, max_iter=1)
        hi = gaussian_estimator("sklearn", d, k, covariance_type, max_iter=m)
        t_lo = best_of(lambda: quiet_fit(lo, X), repeat)
        t_hi = best_of(lambda: quiet_fit(hi, X), repeat)
        return (t_hi - t_lo) / (m - 1)
    best = np.inf
    start = time.perf_counter()
    for i in range(max_repeat):
        t0 = time.perf_counter()
        _, log_resp = est._e_step(X)
        est._m_step(X, log_resp)
        t1 = time.perf_counter()
        del log_resp
        best = min(best, t1 - t0)
        if t1 - start > budget or (i + 1 >= repeat and t1 - start > min_time):
            break
    return best


# ----------------------------------------------------------------------------- fit
class GaussianFit:
    """Soft EM, fixed work: ``fit`` with ``tol=0`` and ``max_iter = M`` iterations from
    the true parameters (M = 5 for every shape of the grid, ``common.n_iterations``).

    ``time_fit_iterations``: wall time of the whole fit (M iterations plus the fixed
    per-fit costs: input checks, initialisation from the given parameters, and for
    scikit-learn one extra final E-step); per-iteration cost ~= time / M.  The
    overhead-free per-iteration figures and their fastem/sklearn ratio are in
    ``GaussianSpeedRatio``.

    ``peakmem_fit_iterations``: peak resident memory of the process (interpreter and
    imports, the data X, and the fit) of a fit with ``max_iter=1`` (EM's memory does not
    grow with the iterations; one iteration keeps this cheap).  Same process baseline and
    same data for both implementations, so the difference is the fit's own memory.
    """

    params = [SHAPE_IDS, COVARIANCE_TYPES, DTYPES, IMPLEMENTATIONS]
    param_names = ["shape", "covariance_type", "dtype", "implementation"]
    number = 1
    repeat = (1, 3, 10.0)
    min_run_count = 1
    rounds = 1
    warmup_time = 0.0
    timeout = 900

    def setup(self, shape, covariance_type, dtype, implementation):
        require(implementation)
        self.X, d, k = _data(shape, dtype)
        warm_gaussian(implementation, self.X, k, covariance_type)
        self.est = gaussian_estimator(implementation, d, k, covariance_type,
                                      max_iter=C.n_iterations(shape))
        self.est1 = gaussian_estimator(implementation, d, k, covariance_type, max_iter=1)

    def time_fit_iterations(self, shape, covariance_type, dtype, implementation):
        quiet_fit(self.est, self.X)

    def peakmem_fit_iterations(self, shape, covariance_type, dtype, implementation):
        quiet_fit(self.est1, self.X)


class GaussianSpeedRatio:
    """THE figures to read: per-iteration time of fastem / per-iteration time of
    scikit-learn (soft EM, same data, same starting parameters), measured in one process
    with ``time.perf_counter``.  Below 1 means fastem is faster (0.1 = ten times faster);
    lower is better, as for every asv figure.

    fastem: (fit with M iterations - fit with 1 iteration) / (M - 1), best of 3 each.
    scikit-learn: one ``_e_step`` + ``_m_step`` on the full data (what its fit loop does
    per iteration), best of 3, or fewer when one iteration takes more than ~10 s.
    Neither includes the fixed per-fit costs.
    """

    params = [SHAPE_IDS, COVARIANCE_TYPES, DTYPES]
    param_names = ["shape", "covariance_type", "dtype"]
    unit = "ratio"
    rounds = 1
    timeout = 1200

    def setup(self, shape, covariance_type, dtype):
        require("fastem")
        require("sklearn")
        self.X, self.d, self.k = _data(shape, dtype)
        warm_gaussian("fastem", self.X, self.k, covariance_type)
        warm_gaussian("sklearn", self.X, self.k, covariance_type)

    def track_time_ratio_fastem_over_sklearn(self, shape, covariance_type, dtype):
        f = fastem_seconds_per_iteration(self.X, self.k, covariance_type,
                                         C.n_iterations(shape))
        s = sklearn_seconds_per_iteration(self.X, self.k, covariance_type)
        return f / s


# ----------------------------------------------------------------------------- modes
class GaussianModes:
    """fastem only (scikit-learn has soft EM only): seconds per EM iteration of soft,
    hard and stochastic EM, float64, fixed work from the true parameters.

    (fit with M iterations - fit with 1 iteration) / (n_iter_ difference), best of 3:
    the fixed per-fit costs are excluded.  Hard EM stops as soon as no label changes
    (often at iteration 2 from the true parameters), hence the division by ``n_iter_``.

    The ratio to soft EM is ``GaussianModeRatio``.
    """

    params = [SHAPE_IDS, COVARIANCE_TYPES, MODES]
    param_names = ["shape", "covariance_type", "mode"]
    unit = "seconds"
    rounds = 1
    timeout = 900

    def setup(self, shape, covariance_type, mode):
        require("fastem")
        self.X, self.d, self.k = _data(shape, "float64")
        warm_gaussian("fastem", self.X, self.k, covariance_type, mode=mode)

    def track_seconds_per_iteration(self, shape, covariance_type, mode):
        return fastem_seconds_per_iteration(self.X, self.k, covariance_type,
                                            C.n_iterations(shape), mode=mode)


class GaussianModeRatio:
    """THE figure to read for the modes: per-iteration time of hard or stochastic EM over
    soft EM's (float64, same data, same start), both measured in the same call,
    alternating (soft, mode) twice and keeping each one's best, so that machine
    noise between separate benchmark runs does not enter the ratio.  Bar: 1.2."""

    params = [SHAPE_IDS, COVARIANCE_TYPES, ["hard", "stochastic"]]
    param_names = ["shape", "covariance_type", "mode"]
    unit = "ratio"
    rounds = 1
    timeout = 900

    def setup(self, shape, covariance_type, mode):
        require("fastem")
        self.X, self.d, self.k = _data(shape, "float64")
        warm_gaussian("fastem", self.X, self.k, covariance_type, mode="soft")
        warm_gaussian("fastem", self.X, self.k, covariance_type, mode=mode)

    def track_time_ratio_over_soft(self, shape, covariance_type, mode):
        m = C.n_iterations(shape)
        soft = other = np.inf
        for _ in range(2):
            soft = min(soft, fastem_seconds_per_iteration(self.X, self.k, covariance_type, m))
            other = min(other, fastem_seconds_per_iteration(self.X, self.k, covariance_type,
                                                            m, mode=mode))
        return other / soft


# ----------------------------------------------------------------------------- predict
class GaussianPredict:
    """``predict_proba(X)`` and ``score_samples(X)`` on the full data, with a model
    fitted (one iteration from the true parameters) on the first rows in ``setup``."""

    params = [SHAPE_IDS, COVARIANCE_TYPES, DTYPES, IMPLEMENTATIONS]
    param_names = ["shape", "covariance_type", "dtype", "implementation"]
    number = 1
    repeat = (1, 5, 4.0)
    min_run_count = 1
    rounds = 1
    warmup_time = 0.0
    timeout = 600

    def setup(self, shape, covariance_type, dtype, implementation):
        require(implementation)
        self.X, d, k = _data(shape, dtype)
        warm_gaussian(implementation, self.X, k, covariance_type)
        self.est = _fitted_on_slice(implementation, self.X, k, covariance_type)

    def time_predict_proba(self, shape, covariance_type, dtype, implementation):
        self.est.predict_proba(self.X)

    def time_score_samples(self, shape, covariance_type, dtype, implementation):
        self.est.score_samples(self.X)


# ----------------------------------------------------------------------------- default
DEFAULT_SHAPE = C.shape_id((1_000_000, 16, 16))


def _default_estimator(implementation):
    if implementation == "fastem":
        return C.fastem.GaussianMixture(16, covariance_type="full", random_state=0)
    from sklearn.mixture import GaussianMixture

    return GaussianMixture(16, covariance_type="full", random_state=0)


def _warm_default(implementation, X):
    """Warm the fixed-work path and the default one (k-means initialisation included)."""
    warm_gaussian(implementation, X, 16, "full")
    quiet_fit(_default_estimator(implementation), X[:20_000])


class GaussianDefaultFit:
    """A whole fit with each library's defaults (k-means initialisation, tol=1e-3,
    max_iter=100): ``GaussianMixture(16, covariance_type="full", random_state=0).fit(X)``
    at (1e6, 16, 16), float64.

    ``track_default_fit_*`` come from one fit of each implementation done once in
    ``setup_cache``: iterations used, final mean log-likelihood per sample (both should
    reach the same optimum on these well separated blobs) and the ratio of whole-fit
    times fastem / sklearn (lower is better).
    """

    params = [IMPLEMENTATIONS]
    param_names = ["implementation"]
    number = 1
    repeat = 1
    min_run_count = 1
    rounds = 1
    warmup_time = 0.0
    timeout = 1800

    def setup_cache(self):
        X, _, _ = _data(DEFAULT_SHAPE, "float64")
        out = {}
        for impl in IMPLEMENTATIONS:
            try:
                require(impl)
            except NotImplementedError:
                continue
            _warm_default(impl, X)
            est = _default_estimator(impl)
            t0 = time.perf_counter()
            quiet_fit(est, X)
            out[impl] = dict(seconds=time.perf_counter() - t0, n_iter=int(est.n_iter_),
                             lower_bound=float(est.lower_bound_))
        return out

    def setup(self, cache, implementation):
        require(implementation)
        self.X, _, _ = _data(DEFAULT_SHAPE, "float64")
        _warm_default(implementation, self.X)

    def time_default_fit(self, cache, implementation):
        quiet_fit(_default_estimator(implementation), self.X)

    def track_default_fit_n_iter(self, cache, implementation):
        return cache[implementation]["n_iter"]

    track_default_fit_n_iter.unit = "iterations"

    def track_default_fit_lower_bound(self, cache, implementation):
        return cache[implementation]["lower_bound"]

    track_default_fit_lower_bound.unit = "nats/sample"

    def track_default_fit_time_ratio_fastem_over_sklearn(self, cache, implementation):
        return cache["fastem"]["seconds"] / cache["sklearn"]["seconds"]

    track_default_fit_time_ratio_fastem_over_sklearn.unit = "ratio"
    track_default_fit_time_ratio_fastem_over_sklearn.skip_params = [("sklearn",)]


# ----------------------------------------------------------------------------- GFLOP/s
FLOPS_SHAPE = C.shape_id((1_000_000, 16, 16))


def full_em_flops_per_row_component(d):
    """Useful flops of one soft-EM iteration, per row and per component, full covariance.

    log-density via the precision Cholesky L (upper triangular) with b = mu^T L
    precomputed: y = x^T L - b is d(d+1)/2 multiply-adds = d(d+1) flops, plus d for the
    subtraction, plus 2d for ||y||^2; sufficient statistics: r x (first moment) 2d flops
    and r x x^T (upper triangle, from the products r x_i) d(d+1)/2 multiply-adds =
    d(d+1) flops.  Total 2 d (d+1) + 5 d; the O(1) terms per component (exp,
    log-sum-exp, adding r) are not counted.  d=16: 624 flops.
    """
    return 2 * d * (d + 1) + 5 * d


def matmul_gflops(size=None, repeat=3):
    """Double-precision matmul rate of this machine: best of ``repeat`` timings of a
    (size x size) @ (size x size) product (2 size^3 flops) after one untimed call.
    size = 2048 (512 in the small profile)."""
    if size is None:
        size = 512 if C.SMALL else 2048
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size))
    b = rng.standard_normal((size, size))
    out = np.empty_like(a)
    np.matmul(a, b, out=out)
    t = best_of(lambda: np.matmul(a, b, out=out), repeat)
    return 2.0 * size**3 / t / 1e9


class GaussianFlops:
    """Achieved GFLOP/s of the full-covariance soft-EM iteration at (1e6, 16, 16),
    float64: n * k * (2 d (d+1) + 5 d) flops per iteration (see
    ``full_em_flops_per_row_component``: 624 per row and component, 9.98 GFLOP per
    iteration at this shape) divided by the overhead-free per-iteration time (as in
    ``GaussianSpeedRatio``).  The same count is used for scikit-learn, so its figure is
    an *effective* rate.  ``track_fraction_of_matmul``: that rate divided by the
    matmul rate measured in the same call (see ``MatmulRate``).  Higher is better for
    both (asv would flag an increase as a "regression": read these by value).
    """

    params = [IMPLEMENTATIONS]
    param_names = ["implementation"]
    rounds = 1
    timeout = 900

    def setup(self, implementation):
        require(implementation)
        self.X, self.d, self.k = _data(FLOPS_SHAPE, "float64")
        warm_gaussian(implementation, self.X, self.k, "full")

    def _gflops(self, implementation):
        if implementation == "fastem":
            t = fastem_seconds_per_iteration(self.X, self.k, "full",
                                             C.n_iterations(FLOPS_SHAPE))
        else:
            t = sklearn_seconds_per_iteration(self.X, self.k, "full")
        flops = self.X.shape[0] * self.k * full_em_flops_per_row_component(self.d)
        return flops / t / 1e9

    def track_gflops(self, implementation):
        return self._gflops(implementation)

    track_gflops.unit = "GFLOP/s"

    def track_fraction_of_matmul(self, implementation):
        return self._gflops(implementation) / matmul_gflops()

    track_fraction_of_matmul.unit = "ratio"


class MatmulRate:
    """The machine's double-precision matmul rate (numpy/BLAS, all threads): 2048 x 2048
    @ 2048 x 2048, best of 3.  The yardstick for ``GaussianFlops``."""

    rounds = 1
    timeout = 300

    def track_matmul_gflops(self):
        return matmul_gflops()

    track_matmul_gflops.unit = "GFLOP/s"


# ----------------------------------------------------------------------------- memory
_FIT_MEMORY_CODE = """
import sys, warnings
sys.path.insert(0, {bench_root!r})
warnings.simplefilter("ignore")
from benchmarks import common as C
from benchmarks.gaussian import _data
X, d, k = _data({shape!r}, {dtype!r})
C.warm_gaussian({implementation!r}, X, k, {covariance_type!r})
est = C.gaussian_estimator({implementation!r}, d, k, {covariance_type!r}, max_iter=2,
                           init={init!r})
C.quiet_fit(est, X[: max(4 * k, 2000)])  # the same code path once (e.g. k-means init)

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024

open("/proc/self/clear_refs", "w").write("5")  # peak RSS := current RSS
before = status("VmRSS")
C.quiet_fit(est, X)
print(status("VmHWM") - before, X.nbytes)
"""


def fit_peak_extra_bytes(shape, covariance_type, dtype, implementation, init):
    """(peak bytes a fit adds to the process, bytes of X), measured in a fresh process.

    The child builds X, warms the estimator up (compiled code loaded, a small fit), resets
    the kernel's peak-RSS counter (``/proc/self/clear_refs``), fits 2 soft-EM iterations
    (``init``: "given" starts from the true parameters, "default" runs the library's own
    k-means initialisation first) and reads ``VmHWM - VmRSS_before``.  A fresh process keeps
    memory freed by earlier benchmarks from hiding the fit's allocations.  Linux only.
    """
    if not os.path.exists("/proc/self/clear_refs"):
        raise NotImplementedError("needs Linux /proc/self/clear_refs")
    bench_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = _FIT_MEMORY_CODE.format(bench_root=bench_root, shape=shape, dtype=dtype,
                                   implementation=implementation,
                                   covariance_type=covariance_type, init=init == "given")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    extra, nbytes = out.stdout.split()[-2:]
    return int(extra), int(nbytes)


class GaussianFitMemory:
    """Peak memory a fit adds beyond what the process held before it (X included there),
    for both libraries, same data, 2 soft-EM iterations from the true parameters
    (``init="given"``) or after each library's default k-means initialisation.

    ``track_extra_mib``: the fit's own peak memory in MiB.
    ``track_extra_over_bar``: that divided by the bar ``0.05 * X.nbytes + 20 MiB``
    (at most 1 meets it; scikit-learn's (n, k) arrays put it well above).
    """

    params = [SHAPE_IDS, COVARIANCE_TYPES, DTYPES, IMPLEMENTATIONS, ["given", "default"]]
    param_names = ["shape", "covariance_type", "dtype", "implementation", "init"]
    number = 1
    repeat = 1
    rounds = 1
    timeout = 900

    def setup(self, shape, covariance_type, dtype, implementation, init):
        require(implementation)
        self.extra, self.nbytes = fit_peak_extra_bytes(shape, covariance_type, dtype,
                                                       implementation, init)

    def track_extra_mib(self, shape, covariance_type, dtype, implementation, init):
        return self.extra / 2**20

    track_extra_mib.unit = "MiB"

    def track_extra_over_bar(self, shape, covariance_type, dtype, implementation, init):
        return self.extra / (0.05 * self.nbytes + 20 * 2**20)

    track_extra_over_bar.unit = "fraction of bar"
