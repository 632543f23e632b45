"""Binomial mixtures: fastem.BinomialMixture against a vectorised NumPy soft EM.

1e7 rows (1e5 in the small profile), one feature, 4 components, two datasets (see
``common.binomial_data``):

* ``varied-trials``: per-row trials drawn uniformly from 1..99 (``trials`` is an
  (n, 1) array), so rows repeat little;
* ``coins-10``: ten coin tosses per row (``trials=10``), only 11 distinct rows.

Both implementations start from the same ``weights_init`` / ``probs_init`` (near, not
at, the truth) with ``tol=0`` and a fixed number of iterations.
"""

import time

import numpy as np
from scipy.special import gammaln

from . import common as C
from .common import (
    BINOM_DATASETS,
    BINOM_PROBS_INIT,
    BINOM_WEIGHTS_INIT,
    MODES,
    binomial_data,
    quiet_fit,
    require,
    rows,
)

N_ROWS = 10_000_000
#: EM iterations of the fixed-work fits.
MAX_ITER = 5
K = 4
PROB_EPS = 1e-10


# ----------------------------------------------------------------------- NumPy reference
def numpy_log_coef_sum(x, t):
    """sum_i log C(t_i, x_i), computed once per fit (it does not depend on the
    parameters), with scipy.special.gammaln."""
    t = np.broadcast_to(np.asarray(t, dtype=np.float64), x.shape)
    return float(np.sum(gammaln(t + 1.0) - gammaln(x + 1.0) - gammaln(t - x + 1.0)))


def numpy_em_step(x, t, weights, probs):
    """One soft-EM iteration for a one-feature binomial mixture, vectorised NumPy.

    E-step: log w_c + x log p_c + (t - x) log(1 - p_c) (binomial coefficient left out:
    it is a constant, see ``numpy_log_coef_sum``) for every row and component as an
    (n, k) array, a stable log-sum-exp per row, responsibilities r = exp(L - lse).
    M-step from the sufficient statistics n_c = sum_i r_ic, sx_c = sum_i r_ic x_i and
    st_c = sum_i r_ic t_i: w = n_c / n, p = sx_c / st_c (clipped to [1e-10, 1 - 1e-10],
    as fastem).  In-place operations keep the temporaries to one (n, k) array plus
    rows-long vectors.

    Returns (sum of log-likelihoods without the constant, new weights, new probs).
    """
    logp = np.log(probs)
    log1mp = np.log1p(-probs)
    L = np.multiply.outer(x, logp - log1mp)  # x log p + (t - x) log(1-p)
    if np.ndim(t) == 0:
        L += t * log1mp + np.log(weights)
    else:
        L += np.multiply.outer(t, log1mp)
        L += np.log(weights)
    m = L.max(axis=1)
    L -= m[:, None]
    np.exp(L, out=L)
    s = L.sum(axis=1)
    loglik = float(np.sum(np.log(s)) + np.sum(m))
    L /= s[:, None]  # responsibilities
    nk = L.sum(axis=0)
    sx = x @ L
    st = t * nk if np.ndim(t) == 0 else t @ L
    weights = nk / x.shape[0]
    probs = np.clip(sx / st, PROB_EPS, 1.0 - PROB_EPS)
    return loglik, weights, probs


def numpy_fit(x, t, weights, probs, max_iter):
    """``max_iter`` soft-EM iterations (tol=0): the NumPy counterpart of
    ``BinomialMixture(tol=0, max_iter=max_iter).fit``.  Returns (weights, probs, mean
    log-likelihood per row at the last E-step, binomial coefficients included)."""
    offset = numpy_log_coef_sum(x, t)
    ll = -np.inf
    for _ in range(max_iter):
        ll, weights, probs = numpy_em_step(x, t, weights, probs)
    return weights, probs, (ll + offset) / x.shape[0]


def _numpy_inputs(dataset):
    X, trials = binomial_data(dataset, rows(N_ROWS))
    t = trials[:, 0] if np.ndim(trials) else float(trials)
    return X[:, 0], t


def _fastem(mode="soft", max_iter=MAX_ITER):
    return C.fastem.BinomialMixture(
        K, mode=mode, tol=0.0, max_iter=max_iter, weights_init=BINOM_WEIGHTS_INIT,
        probs_init=BINOM_PROBS_INIT, random_state=0)


def _warm_fastem(X, trials, mode="soft"):
    C.warmup_fastem(X.dtype)
    small = X[:5000]
    tr = trials[:5000] if np.ndim(trials) else trials
    m = quiet_fit(_fastem(mode, 2), small, trials=tr)
    m.predict_proba(small[:10], trials=tr[:10] if np.ndim(tr) else tr)


def fastem_seconds_per_iteration(X, trials, mode="soft", repeat=3):
    """(fit with MAX_ITER iterations - fit with 1) / (n_iter_ difference), best of
    ``repeat`` each: fastem's per-iteration time without the fixed per-fit costs."""
    lo, hi = _fastem(mode, 1), _fastem(mode, MAX_ITER)
    t_lo = t_hi = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        quiet_fit(lo, X, trials=trials)
        t1 = time.perf_counter()
        quiet_fit(hi, X, trials=trials)
        t2 = time.perf_counter()
        t_lo, t_hi = min(t_lo, t1 - t0), min(t_hi, t2 - t1)
    n_lo, n_hi = lo.n_iter_, hi.n_iter_
    per = (t_hi - t_lo) / (n_hi - n_lo) if n_hi > n_lo else np.nan
    return per if per > 0 else t_hi / n_hi


def numpy_seconds_per_iteration(x, t, repeat=3):
    """One ``numpy_em_step`` on the full data, best of ``repeat``."""
    w, p = BINOM_WEIGHTS_INIT.copy(), BINOM_PROBS_INIT.copy()
    return C.best_of(lambda: numpy_em_step(x, t, w, p), repeat)


# ----------------------------------------------------------------------------- benchmarks
class BinomialFit:
    """Soft EM on 1e7 rows, 4 components, ``tol=0``, MAX_ITER = 5 iterations from the same
    start: fastem ``BinomialMixture.fit`` vs ``numpy_fit`` (the same EM in vectorised
    NumPy, binomial-coefficient constant computed once per fit by both).

    ``time_fit_iterations``: whole fit; per-iteration cost ~= time / 5 (the
    overhead-free per-iteration ratio is ``BinomialSpeedRatio``).
    ``peakmem_fit_iterations``: peak RSS of the process (baseline + data + fit) for a
    one-iteration fit.
    """

    params = [BINOM_DATASETS, ["fastem", "numpy"]]
    param_names = ["dataset", "implementation"]
    number = 1
    repeat = (1, 3, 15.0)
    min_run_count = 1
    rounds = 1
    warmup_time = 0.0
    timeout = 600

    def setup(self, dataset, implementation):
        if implementation == "fastem":
            require("fastem-binomial")
        self.X, self.trials = binomial_data(dataset, rows(N_ROWS))
        self.x, self.t = _numpy_inputs(dataset)
        if implementation == "fastem":
            _warm_fastem(self.X, self.trials)
        else:
            numpy_fit(self.x[:5000], self.t[:5000] if np.ndim(self.t) else self.t,
                      BINOM_WEIGHTS_INIT, BINOM_PROBS_INIT, 2)

    def _fit(self, implementation, max_iter):
        if implementation == "fastem":
            quiet_fit(_fastem("soft", max_iter), self.X, trials=self.trials)
        else:
            numpy_fit(self.x, self.t, BINOM_WEIGHTS_INIT, BINOM_PROBS_INIT, max_iter)

    def time_fit_iterations(self, dataset, implementation):
        self._fit(implementation, MAX_ITER)

    def peakmem_fit_iterations(self, dataset, implementation):
        self._fit(implementation, 1)


class BinomialSpeedRatio:
    """THE figure to read for binomials: per-iteration time of fastem / per-iteration time
    of the NumPy soft EM (below 1: fastem faster; lower is better).

    fastem: (fit with 5 iterations - fit with 1) / 4, best of 3 each; NumPy: one
    ``numpy_em_step`` on the full data, best of 3.  Fixed per-fit costs are excluded
    (fastem may merge repeated rows once per fit, which makes its iterations nearly free
    on ``coins-10``); ``track_fit_time_ratio_fastem_over_numpy`` is the same ratio for
    whole 5-iteration fits, fixed costs included.  Also
    ``track_loglik_difference``: |mean log-likelihood of fastem - of NumPy| after 5
    iterations from the same start (a check that both run the same EM; ~1e-12).
    """

    params = [BINOM_DATASETS]
    param_names = ["dataset"]
    rounds = 1
    timeout = 900

    def setup(self, dataset):
        require("fastem-binomial")
        self.X, self.trials = binomial_data(dataset, rows(N_ROWS))
        self.x, self.t = _numpy_inputs(dataset)
        _warm_fastem(self.X, self.trials)

    def track_time_ratio_fastem_over_numpy(self, dataset):
        f = fastem_seconds_per_iteration(self.X, self.trials)
        n = numpy_seconds_per_iteration(self.x, self.t)
        return f / n

    track_time_ratio_fastem_over_numpy.unit = "ratio"

    def track_fit_time_ratio_fastem_over_numpy(self, dataset):
        """Whole 5-iteration fits, fixed per-fit costs included (e.g. fastem's merging of
        repeated rows, NumPy's gammaln constant), best of 3 each."""
        f = C.best_of(lambda: quiet_fit(_fastem("soft", MAX_ITER), self.X, trials=self.trials))
        n = C.best_of(lambda: numpy_fit(self.x, self.t, BINOM_WEIGHTS_INIT, BINOM_PROBS_INIT,
                                        MAX_ITER))
        return f / n

    track_fit_time_ratio_fastem_over_numpy.unit = "ratio"

    def track_time_ratio_uncompressed_over_numpy(self, dataset):
        """The per-iteration ratio without merging repeated rows: one pass of the public
        kernel ``fastem.kernels.binomial_em_step`` over all rows (soft E-step and the
        sufficient statistics; the M-step from them is k divisions) divided by one
        ``numpy_em_step``, best of 3 each.  This is the cost fastem pays per iteration
        when rows do not repeat (and in stochastic EM, which never merges)."""
        from fastem import kernels as K

        T = np.asarray(self.trials, dtype=self.X.dtype)
        T = T.reshape(-1, 1) if T.ndim else T.reshape(1, 1)
        w, p = BINOM_WEIGHTS_INIT.copy(), BINOM_PROBS_INIT.reshape(-1, 1).copy()
        no_w, no_labels = np.empty(0), np.empty(0, dtype=np.int32)

        def step():
            return K.binomial_em_step(self.X, T, no_w, w, p, K.SOFT, 0, 0, no_labels)

        step()  # compiled in setup's warm-up already; this call only loads it
        f = C.best_of(step, 3)
        n = numpy_seconds_per_iteration(self.x, self.t)
        return f / n

    track_time_ratio_uncompressed_over_numpy.unit = "ratio"

    def track_loglik_difference(self, dataset):
        m = quiet_fit(_fastem("soft", MAX_ITER), self.X, trials=self.trials)
        _, _, ll = numpy_fit(self.x, self.t, BINOM_WEIGHTS_INIT, BINOM_PROBS_INIT, MAX_ITER)
        return abs(m.lower_bound_ - ll)

    track_loglik_difference.unit = "nats/sample"


class BinomialModes:
    """fastem only: seconds per iteration of soft, hard and stochastic EM on the binomial
    datasets ((fit with 5 iterations - fit with 1) / n_iter_ difference, best of 3; hard
    EM may stop early, hence ``n_iter_``)."""

    params = [BINOM_DATASETS, MODES]
    param_names = ["dataset", "mode"]
    unit = "seconds"
    rounds = 1
    timeout = 600

    def setup(self, dataset, mode):
        require("fastem-binomial")
        self.X, self.trials = binomial_data(dataset, rows(N_ROWS))
        _warm_fastem(self.X, self.trials, mode)

    def track_seconds_per_iteration(self, dataset, mode):
        return fastem_seconds_per_iteration(self.X, self.trials, mode)


class BinomialModeRatio:
    """Per-iteration cost of hard or stochastic EM over soft EM on the same rows: one pass
    of the public kernel ``fastem.kernels.binomial_em_step`` over all 1e7 rows in the mode,
    over one soft pass, alternating (soft, mode) three times and keeping each one's best.

    This is the like-for-like ratio (bar: 1.2).  A ``fit`` is another matter on data with
    repeated rows: soft and hard EM merge repeated rows once per fit, stochastic EM cannot
    (every row needs its own draw), so on ``coins-10`` a stochastic iteration costs a full
    pass while a soft one costs microseconds (see ``BinomialModes``)."""

    params = [BINOM_DATASETS, ["hard", "stochastic"]]
    param_names = ["dataset", "mode"]
    unit = "ratio"
    rounds = 1
    timeout = 600

    def setup(self, dataset, mode):
        require("fastem-binomial")
        from fastem import kernels

        self.K = kernels
        self.X, trials = binomial_data(dataset, rows(N_ROWS))
        T = np.asarray(trials, dtype=self.X.dtype)
        self.T = T.reshape(-1, 1) if T.ndim else T.reshape(1, 1)
        _warm_fastem(self.X, trials, "soft")
        _warm_fastem(self.X, trials, mode)

    def _step(self, code):
        K = self.K
        w, p = BINOM_WEIGHTS_INIT.copy(), BINOM_PROBS_INIT.reshape(-1, 1).copy()
        no_w, no_labels = np.empty(0), np.empty(0, dtype=np.int32)
        return lambda: K.binomial_em_step(self.X, self.T, no_w, w, p, code, 1, 1, no_labels)

    def track_time_ratio_over_soft(self, dataset, mode):
        soft = self._step(self.K.SOFT)
        other = self._step(self.K.HARD if mode == "hard" else self.K.STOCHASTIC)
        soft(), other()  # compiled by the warm-up; these calls only load them
        t_soft = t_other = np.inf
        for _ in range(3):
            t_soft = min(t_soft, C.best_of(soft, 2))
            t_other = min(t_other, C.best_of(other, 2))
        return t_other / t_soft
