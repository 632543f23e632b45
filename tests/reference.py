"""Slow, obvious reference implementations for testing fastem's compiled kernels.

Everything here is written directly from the math with plain numpy/scipy
(explicit loops where that is clearer), in float64 throughout.  Nothing is
optimised and nothing is imported from ``fastem``: the point is to have an
independent answer that the Numba kernels can be compared against.

Contents:
  * binomial mixture log-densities, E-step statistics, M-step and a full EM loop;
  * a pure-Python SplitMix64 (Steele, Lea & Flood 2014) and the keyed uniforms built on it.
"""
import numpy as np
from scipy.special import gammaln, logsumexp
from scipy.stats import binom


def _as2d(X):
    """Return X as a float64 (n, d) array; a 1-D X of length n becomes (n, 1)."""
    X = np.asarray(X, dtype=np.float64)
    return X[:, None] if X.ndim == 1 else X


def _trials2d(X, trials):
    """Broadcast trials (scalar, (n,1), (1,d), (n,d)) to X's (n, d) shape.

    Plain numpy broadcasting, except that for d == 1 a 1-D (n,) trials is read
    as (n, 1), matching how _as2d treats a 1-D X.
    """
    T = np.asarray(trials, dtype=np.float64)
    if T.ndim == 1 and X.shape[1] == 1:
        T = T[:, None]
    return np.broadcast_to(T, X.shape).astype(np.float64)


def binomial_log_density(X, trials, probs):
    """Per-component binomial log-density, binomial coefficient included.

    X: (n, d) counts; trials: broadcastable to (n, d); probs: (k, d).
    Returns (n, k): out[i, c] = sum_j binom.logpmf(X[i, j], trials[i, j], probs[c, j]).
    """
    X = _as2d(X)
    T = _trials2d(X, trials)
    probs = np.atleast_2d(np.asarray(probs, dtype=np.float64))
    n, k = X.shape[0], probs.shape[0]
    out = np.empty((n, k), dtype=np.float64)
    for c in range(k):
        out[:, c] = binom.logpmf(X, T, probs[c][None, :]).sum(axis=1)
    return out


def binomial_log_coef(X, trials):
    """Log binomial coefficients. X: (n, d); trials broadcastable to (n, d).

    Returns (n,): sum_j log C(trials_ij, X_ij), computed with gammaln.
    """
    X = _as2d(X)
    T = _trials2d(X, trials)
    logc = gammaln(T + 1.0) - gammaln(X + 1.0) - gammaln(T - X + 1.0)
    return logc.sum(axis=1)


def binomial_em_step(X, trials, weights, probs, mode, sample_weight=None,
                     uniforms=None):
    """One E-step of a k-component binomial mixture plus sufficient statistics.

    X: (n, d); trials: broadcastable to (n, d); weights: (k,); probs: (k, d);
    mode: "soft" (posteriors), "hard" (one-hot argmax of the log joint, first
    index on ties) or "stochastic" (one-hot draw using uniforms, (n,) in [0, 1):
    smallest c with cumsum(P[i])[c] > uniforms[i], falling back to the last
    component with P > 0); sample_weight: (n,), default ones.

    Returns a dict: "resp" (n, k), "log_resp_norm" (n,) per-row log-likelihood,
    "nk" (k,), "sum_x" (k, d), "sum_t" (k, d), "loglik" (scalar, weighted sum of
    per-row log-likelihoods, binomial coefficient included), "labels" (n,).
    """
    X = _as2d(X)
    T = _trials2d(X, trials)
    weights = np.asarray(weights, dtype=np.float64)
    n = X.shape[0]
    w = (np.ones(n) if sample_weight is None
         else np.asarray(sample_weight, dtype=np.float64))
    with np.errstate(divide="ignore"):
        L = np.log(weights)[None, :] + binomial_log_density(X, T, probs)
    ll = logsumexp(L, axis=1)
    with np.errstate(invalid="ignore"):
        P = np.exp(L - ll[:, None])
    k = L.shape[1]

    if mode == "soft":
        resp = P
    elif mode == "hard":
        resp = np.zeros((n, k))
        for i in range(n):
            resp[i, int(np.argmax(L[i]))] = 1.0  # argmax returns first on ties
    elif mode == "stochastic":
        if uniforms is None:
            raise ValueError("stochastic mode needs uniforms of shape (n,)")
        u = np.asarray(uniforms, dtype=np.float64)
        resp = np.zeros((n, k))
        for i in range(n):
            cum = np.cumsum(P[i])
            hits = np.nonzero(cum > u[i])[0]
            if hits.size > 0:
                c = int(hits[0])
            else:  # rounding left cum[-1] <= u: take the last possible component
                c = int(np.nonzero(P[i] > 0)[0][-1])
            resp[i, c] = 1.0
    else:
        raise ValueError(f"unknown mode {mode!r}")

    wr = w[:, None] * resp  # (n, k)
    return {
        "resp": resp,
        "log_resp_norm": ll,
        "nk": wr.sum(axis=0),
        "sum_x": wr.T @ X,
        "sum_t": wr.T @ T,
        "loglik": float(np.sum(w * ll)),
        "labels": np.argmax(resp, axis=1),
    }


def binomial_m_step(nk, sum_x, sum_t, eps):
    """M-step from sufficient statistics. nk: (k,); sum_x, sum_t: (k, d).

    Returns (weights (k,), probs (k, d)) with weights = nk / sum(nk) and
    probs = clip(sum_x / sum_t, eps, 1 - eps).  (An empty component, sum_t == 0,
    gives NaN probs; callers decide how to handle it.)
    """
    nk = np.asarray(nk, dtype=np.float64)
    sum_x = np.asarray(sum_x, dtype=np.float64)
    sum_t = np.asarray(sum_t, dtype=np.float64)
    weights = nk / nk.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        probs = np.clip(sum_x / sum_t, eps, 1.0 - eps)
    return weights, probs


def binomial_em(X, trials, weights, probs, n_iter, mode="soft",
                fit_weights=True, eps=1e-10, sample_weight=None):
    """Run n_iter EM iterations from the given (weights (k,), probs (k, d)).

    Iteration t does the E-step at the current parameters, computes
    loglik_t = sum_i w_i ll_i / sum_i w_i (mean per-sample log-likelihood AT
    THOSE parameters), then the M-step (weights kept fixed if not fit_weights).
    Returns a list of n_iter tuples (weights, probs, loglik_t) where weights and
    probs are the parameters AFTER iteration t's M-step; so loglik_0 belongs to
    the given parameters and loglik_t (t >= 1) to the tuple t - 1 parameters.
    Only mode "soft" and "hard" are supported.
    """
    if mode not in ("soft", "hard"):
        raise ValueError(f"binomial_em supports 'soft' and 'hard', not {mode!r}")
    X = _as2d(X)
    weights = np.asarray(weights, dtype=np.float64).copy()
    probs = np.atleast_2d(np.asarray(probs, dtype=np.float64)).copy()
    w = (np.ones(X.shape[0]) if sample_weight is None
         else np.asarray(sample_weight, dtype=np.float64))
    history = []
    for _ in range(n_iter):
        stats = binomial_em_step(X, trials, weights, probs, mode, sample_weight=w)
        loglik = stats["loglik"] / w.sum()
        new_weights, probs = binomial_m_step(stats["nk"], stats["sum_x"],
                                             stats["sum_t"], eps)
        if fit_weights:
            weights = new_weights
        history.append((weights.copy(), probs.copy(), loglik))
    return history


_M64 = (1 << 64) - 1
_GAMMA = 0x9E3779B97F4A7C15


def splitmix64(state, count):
    """The first ``count`` outputs of SplitMix64 started at ``state``, as Python ints.

    Vigna's reference ``next()``: state += 0x9E3779B97F4A7C15, then
    z = (z ^ z >> 30) * 0xBF58476D1CE4E5B9; z = (z ^ z >> 27) * 0x94D049BB133111EB;
    return z ^ z >> 31, all modulo 2**64.  Published outputs from state 0:

    >>> [hex(v) for v in splitmix64(0, 4)]
    ['0xe220a8397b1dcdaf', '0x6e789e6aa1b965f4', '0x6c45d188009454f', '0xf88bb8a8724c81ec']
    """
    out = []
    for _ in range(count):
        state = (state + _GAMMA) & _M64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
        out.append(z ^ (z >> 31))
    return out


def splitmix64_at(state, j):
    """Output j (j >= 1) of SplitMix64 started at ``state``, without the j - 1 before it.

    The state after j steps is state + j * gamma, so output j is the output function at
    that state (equivalently: the first output from state + (j - 1) * gamma):

    >>> splitmix64_at(12345, 3) == splitmix64(12345, 3)[-1]
    True
    """
    return splitmix64((state + (j - 1) * _GAMMA) & _M64, 1)[0]


def splitmix_key(seed, stream):
    """fastem's documented state for (seed, stream): output stream + 1 from mix64(seed).

    mix64(seed) is the output function at ``seed``, i.e. output 1 from seed - gamma.
    """
    return splitmix64_at(splitmix64_at((seed - _GAMMA) & _M64, 1), stream + 1)


def splitmix_uniform(seed, stream, row):
    """The uniform in [0, 1) that fastem's stochastic EM draws for (seed, stream, row).

    Documented construction: output row + 1 of SplitMix64 started at
    ``splitmix_key(seed, stream)``, top 53 bits times 2**-53.
    """
    return (splitmix64_at(splitmix_key(seed, stream), row + 1) >> 11) / 9007199254740992.0


def splitmix_open_uniform(seed, stream, j):
    """The uniform in (0, 1) at counter j that fastem's random initialisation draws."""
    z = splitmix64_at(splitmix_key(seed, stream), j + 1)
    return ((z >> 11) + 0.5) / 9007199254740992.0


# ---------------------------------------------------------------------------
# Gaussian mixtures and k-means (Lloyd).
#
# Covariance parameter shapes follow scikit-learn's GaussianMixture:
#   "full" (k, d, d), "tied" (d, d), "diag" (k, d), "spherical" (k,).
# Everything is written from the definitions, two-pass where a variance is
# computed (centred at the NEW means), with explicit loops over components.
# ---------------------------------------------------------------------------
from scipy.linalg import solve_triangular  # noqa: E402
from scipy.stats import multivariate_normal  # noqa: E402

_COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


def _check_covariance_type(covariance_type):
    if covariance_type not in _COVARIANCE_TYPES:
        raise ValueError(f"unknown covariance_type {covariance_type!r}; "
                         f"expected one of {_COVARIANCE_TYPES}")


def _sample_weight(sample_weight, n):
    """Return sample weights as a float64 (n,) array (default: ones)."""
    if sample_weight is None:
        return np.ones(n, dtype=np.float64)
    w = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
    if w.shape[0] != n:
        raise ValueError(f"sample_weight has length {w.shape[0]}, expected {n}")
    return w


def full_covariances(covariances, covariance_type, k, d):
    """Expand covariance parameters to one full matrix per component.

    covariances: "full" (k, d, d), "tied" (d, d), "diag" (k, d),
    "spherical" (k,).  Returns a new float64 (k, d, d) array whose c-th slice
    is component c's covariance matrix (the shared matrix repeated for
    "tied", diag(covariances[c]) for "diag", covariances[c] * I for
    "spherical").
    """
    _check_covariance_type(covariance_type)
    cov = np.asarray(covariances, dtype=np.float64)
    out = np.empty((k, d, d), dtype=np.float64)
    if covariance_type == "full":
        cov = cov.reshape(k, d, d)
        for c in range(k):
            out[c] = cov[c]
    elif covariance_type == "tied":
        cov = cov.reshape(d, d)
        for c in range(k):
            out[c] = cov
    elif covariance_type == "diag":
        cov = cov.reshape(k, d)
        for c in range(k):
            out[c] = np.diag(cov[c])
    else:  # spherical
        cov = cov.reshape(k)
        for c in range(k):
            out[c] = cov[c] * np.eye(d)
    return out


def gaussian_log_density(X, means, covariances, covariance_type):
    """Per-component multivariate normal log-density.

    X: (n, d) (a 1-D X of length n is read as (n, 1)); means: (k, d);
    covariances: shape per covariance_type (see full_covariances).
    Returns (n, k): out[i, c] = multivariate_normal(means[c], full_cov[c],
    allow_singular=False).logpdf(X[i]).
    """
    X = _as2d(X)
    n, d = X.shape
    means = np.asarray(means, dtype=np.float64).reshape(-1, d)
    k = means.shape[0]
    covs = full_covariances(covariances, covariance_type, k, d)
    out = np.empty((n, k), dtype=np.float64)
    for c in range(k):
        dist = multivariate_normal(mean=means[c], cov=covs[c],
                                   allow_singular=False)
        # logpdf squeezes (a scalar for n == 1); restore the (n,) shape.
        out[:, c] = np.asarray(dist.logpdf(X), dtype=np.float64).reshape(n)
    return out


def _gaussian_m_step(X, w, resp, covariance_type, reg_covar):
    """Weighted M-step from responsibilities.

    X: (n, d); w: (n,); resp: (n, k).  Returns (nk (k,), weights (k,),
    means (k, d), covariances in covariance_type's shape).  Components with
    nk == 0 get NaN means and covariances; they contribute nothing (all their
    terms are zero) to the "tied" sum and are skipped there.
    """
    n, d = X.shape
    k = resp.shape[1]
    wr = w[:, None] * resp  # (n, k): w_i r_ic
    nk = wr.sum(axis=0)
    weights = nk / nk.sum()

    means = np.empty((k, d), dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        for c in range(k):
            means[c] = (wr[:, c] @ X) / nk[c]

    eye = np.eye(d)
    with np.errstate(divide="ignore", invalid="ignore"):
        if covariance_type == "full":
            covs = np.empty((k, d, d), dtype=np.float64)
            for c in range(k):
                diff = X - means[c]  # (n, d)
                scatter = (wr[:, c][:, None] * diff).T @ diff  # sum_i w r diff diff^T
                covs[c] = scatter / nk[c] + reg_covar * eye
        elif covariance_type == "tied":
            scatter = np.zeros((d, d), dtype=np.float64)
            for c in range(k):
                if nk[c] == 0:
                    continue  # every term w_i r_ic (...) is zero
                diff = X - means[c]
                scatter += (wr[:, c][:, None] * diff).T @ diff
            covs = scatter / nk.sum() + reg_covar * eye
        else:  # diag or spherical
            diag = np.empty((k, d), dtype=np.float64)
            for c in range(k):
                diff = X - means[c]
                diag[c] = (wr[:, c] @ (diff * diff)) / nk[c] + reg_covar
            covs = diag if covariance_type == "diag" else diag.mean(axis=1)
    return nk, weights, means, covs


def gaussian_em_step(X, weights, means, covariances, covariance_type, reg_covar,
                     mode, sample_weight=None, uniforms=None):
    """One E-step at the given parameters followed by the M-step.

    X: (n, d) (1-D read as (n, 1)); weights: (k,); means: (k, d);
    covariances: shape per covariance_type ("full" (k, d, d), "tied" (d, d),
    "diag" (k, d), "spherical" (k,)); reg_covar: scalar added to the
    diagonal of every new covariance; mode: "soft" (posteriors), "hard"
    (one-hot argmax of the log joint, first index on ties) or "stochastic"
    (one-hot at the smallest c with cumsum(P[i])[c] > uniforms[i], falling
    back to the last c with P[i, c] > 0); sample_weight: (n,), default ones;
    uniforms: (n,) in [0, 1), required for "stochastic".

    Returns a dict:
      "resp" (n, k), "log_prob_norm" (n,) per-row log-likelihood
      ll_i = logsumexp_c [log weights[c] + log N(x_i | means[c], cov[c])],
      "loglik" (scalar, sum_i w_i ll_i), "nk" (k,), "weights" (k,) = nk / sum nk,
      "means" (k, d), "covariances" (shape per type), "labels" (n,) argmax of resp.
    Components with nk == 0 get NaN means and covariances (no exception).
    """
    _check_covariance_type(covariance_type)
    X = _as2d(X)
    n, d = X.shape
    weights = np.asarray(weights, dtype=np.float64).reshape(-1)
    k = weights.shape[0]
    means = np.asarray(means, dtype=np.float64).reshape(k, d)
    w = _sample_weight(sample_weight, n)

    with np.errstate(divide="ignore"):
        L = np.log(weights)[None, :] + gaussian_log_density(
            X, means, covariances, covariance_type)
    ll = logsumexp(L, axis=1)
    with np.errstate(invalid="ignore"):
        P = np.exp(L - ll[:, None])

    if mode == "soft":
        resp = P
    elif mode == "hard":
        resp = np.zeros((n, k))
        for i in range(n):
            resp[i, int(np.argmax(L[i]))] = 1.0  # argmax returns first on ties
    elif mode == "stochastic":
        if uniforms is None:
            raise ValueError("stochastic mode needs uniforms of shape (n,)")
        u = np.asarray(uniforms, dtype=np.float64).reshape(-1)
        resp = np.zeros((n, k))
        for i in range(n):
            cum = np.cumsum(P[i])
            hits = np.nonzero(cum > u[i])[0]
            if hits.size > 0:
                c = int(hits[0])
            else:  # rounding left cum[-1] <= u: take the last possible component
                c = int(np.nonzero(P[i] > 0)[0][-1])
            resp[i, c] = 1.0
    else:
        raise ValueError(f"unknown mode {mode!r}")

    nk, new_weights, new_means, new_covs = _gaussian_m_step(
        X, w, resp, covariance_type, float(reg_covar))
    return {
        "resp": resp,
        "log_prob_norm": ll,
        "loglik": float(np.sum(w * ll)),
        "nk": nk,
        "weights": new_weights,
        "means": new_means,
        "covariances": new_covs,
        "labels": np.argmax(resp, axis=1),
    }


def gaussian_em(X, weights, means, covariances, covariance_type, reg_covar,
                n_iter, mode="soft", sample_weight=None):
    """Run n_iter Gaussian-mixture EM iterations from the given parameters.

    X: (n, d); weights: (k,); means: (k, d); covariances: shape per
    covariance_type.  Iteration t does the E-step at the current parameters,
    computes loglik_t = sum_i w_i ll_i / sum_i w_i (mean per-sample
    log-likelihood AT THOSE parameters), then the M-step.  Returns a list of
    n_iter tuples (weights (k,), means (k, d), covariances, loglik_t) whose
    parameters are those AFTER iteration t's M-step; history[-1][:3] are the
    final parameters.  Only mode "soft" and "hard" are supported.  Raises
    ValueError if a component's nk becomes 0 ("hard" mode, or "soft" when its
    posteriors all underflow), since its new mean and covariance would be NaN.
    (scikit-learn's GaussianMixture(max_iter=n_iter, tol=0) reports
    history[-1][:3] as weights_/means_/covariances_ and history[-1][3] as
    lower_bound_.)
    """
    if mode not in ("soft", "hard"):
        raise ValueError(f"gaussian_em supports 'soft' and 'hard', not {mode!r}")
    _check_covariance_type(covariance_type)
    X = _as2d(X)
    n, d = X.shape
    weights = np.asarray(weights, dtype=np.float64).reshape(-1).copy()
    k = weights.shape[0]
    means = np.asarray(means, dtype=np.float64).reshape(k, d).copy()
    covariances = np.asarray(covariances, dtype=np.float64).copy()
    w = _sample_weight(sample_weight, n)
    history = []
    for _ in range(n_iter):
        step = gaussian_em_step(X, weights, means, covariances, covariance_type,
                                reg_covar, mode, sample_weight=w)
        loglik = step["loglik"] / w.sum()
        empty = np.nonzero(step["nk"] == 0)[0]
        if empty.size > 0:
            raise ValueError(f"component(s) {empty.tolist()} received no weight in "
                             f"iteration {len(history)}; gaussian_em has no policy "
                             "for empty components (use gaussian_em_step)")
        weights, means, covariances = (step["weights"], step["means"],
                                       step["covariances"])
        history.append((weights.copy(), means.copy(), covariances.copy(), loglik))
    return history


def precisions_from_covariances(covariances, covariance_type):
    """Precisions and precision Cholesky factors, scikit-learn conventions.

    covariances: "full" (k, d, d), "tied" (d, d), "diag" (k, d),
    "spherical" (k,).  Returns (precisions, precisions_cholesky), both in the
    same shape as covariances:
      full/tied: precision = inv(C); precisions_cholesky = inv(cholesky(C)).T,
        upper triangular, with precision == P @ P.T;
      diag/spherical: precision = 1 / C; precisions_cholesky = 1 / sqrt(C).
    numpy.linalg.cholesky raises LinAlgError if C is not positive definite.
    """
    _check_covariance_type(covariance_type)
    cov = np.asarray(covariances, dtype=np.float64)
    if covariance_type in ("diag", "spherical"):
        return 1.0 / cov, 1.0 / np.sqrt(cov)

    def one(C):
        L = np.linalg.cholesky(C)  # lower, C = L L^T
        L_inv = solve_triangular(L, np.eye(C.shape[0]), lower=True)
        return np.linalg.inv(C), L_inv.T

    if covariance_type == "tied":
        return one(cov)
    precisions = np.empty_like(cov)
    precisions_chol = np.empty_like(cov)
    for c in range(cov.shape[0]):
        precisions[c], precisions_chol[c] = one(cov[c])
    return precisions, precisions_chol


def covariances_from_precisions(precisions, covariance_type):
    """Inverse of precisions_from_covariances' first output.

    precisions: "full" (k, d, d), "tied" (d, d), "diag" (k, d),
    "spherical" (k,).  Returns covariances of the same shape: inv(P) per
    matrix for full/tied, 1 / P elementwise for diag/spherical.
    """
    _check_covariance_type(covariance_type)
    prec = np.asarray(precisions, dtype=np.float64)
    if covariance_type in ("diag", "spherical"):
        return 1.0 / prec
    if covariance_type == "tied":
        return np.linalg.inv(prec)
    cov = np.empty_like(prec)
    for c in range(prec.shape[0]):
        cov[c] = np.linalg.inv(prec[c])
    return cov


def lloyd_step(X, centers, sample_weight=None):
    """One Lloyd (k-means) iteration.

    X: (n, d) (1-D read as (n, 1)); centers: (k, d); sample_weight: (n,),
    default ones.  Returns (labels (n,) int, new_centers (k, d), inertia):
      labels[i] = argmin_c ||x_i - centers[c]||^2 (first index on ties);
      new_centers[c] = sum_{i: label c} w_i x_i / sum_{i: label c} w_i, or
        centers[c] unchanged if no point (or only zero total weight) has label c;
      inertia = sum_i w_i ||x_i - centers[labels[i]]||^2 with the ORIGINAL centers.
    """
    X = _as2d(X)
    n, d = X.shape
    centers = np.asarray(centers, dtype=np.float64).reshape(-1, d)
    k = centers.shape[0]
    w = _sample_weight(sample_weight, n)

    sq = np.empty((n, k), dtype=np.float64)
    for c in range(k):
        diff = X - centers[c]
        sq[:, c] = np.sum(diff * diff, axis=1)
    labels = np.argmin(sq, axis=1)  # first index on ties

    new_centers = centers.copy()
    for c in range(k):
        members = labels == c
        total = w[members].sum()
        if members.any() and total != 0:
            new_centers[c] = (w[members] @ X[members]) / total
    inertia = float(np.sum(w * sq[np.arange(n), labels]))
    return labels, new_centers, inertia


def gaussian_one_component_mle(X, reg_covar, covariance_type, sample_weight=None):
    """Weighted maximum-likelihood single Gaussian, plus reg_covar on the diagonal.

    X: (n, d) (1-D read as (n, 1)); sample_weight: (n,), default ones.
    mean = sum_i w_i x_i / sum_i w_i, shape (d,);
    S = sum_i w_i (x_i - mean)(x_i - mean)^T / sum_i w_i + reg_covar * I.
    Returns (mean, covariance) with the covariance in covariance_type's shape
    for k = 1: "full" S[None] (1, d, d), "tied" S (d, d), "diag" diag(S)[None]
    (1, d), "spherical" [mean(diag(S))] (1,).
    """
    _check_covariance_type(covariance_type)
    X = _as2d(X)
    n, d = X.shape
    w = _sample_weight(sample_weight, n)
    total = w.sum()
    mean = (w @ X) / total
    diff = X - mean
    S = (w[:, None] * diff).T @ diff / total + float(reg_covar) * np.eye(d)
    if covariance_type == "full":
        cov = S[None, :, :]
    elif covariance_type == "tied":
        cov = S
    elif covariance_type == "diag":
        cov = np.diag(S)[None, :].copy()
    else:
        cov = np.array([np.mean(np.diag(S))])
    return mean, cov


# ---------------------------------------------------------------------------
# Gaussian mixtures with missing values (issue 13).
#
# A NaN cell of X is a missing value; infinity is an error.  Everything is
# computed row by row and component by component from the textbook formulas
# (Ghahramani & Jordan 1994, "Supervised learning from incomplete data via an
# EM approach"; Little & Rubin, "Statistical Analysis with Missing Data",
# 2nd ed. 2002, sections 8.2 and 11.2): a row's component density is the
# marginal Gaussian of its observed sub-vector x_o, and the M-step uses the
# conditional distribution of the missing block x_m given x_o,
#   E[x_m | x_o]   = mu_m + S_mo S_oo^-1 (x_o - mu_o),
#   Cov[x_m | x_o] = S_mm - S_mo S_oo^-1 S_om.
# For "diag" and "spherical" the expanded covariance is diagonal, so the same
# formulas give mu_m and the component variances of the missing cells; for
# "tied" every component uses the shared matrix.
# ---------------------------------------------------------------------------

_NK_TINY = 10.0 * np.finfo(np.float64).eps  # added to every nk before the weights


def _missing_X(X):
    """X as float64 (n, d) (1-D read as (n, 1)); NaN allowed, +-inf a ValueError."""
    X = _as2d(X)
    if np.isinf(X).any():
        raise ValueError("X contains infinity (only NaN marks a missing cell)")
    return X


def _observed_log_density(x, observed, mean, cov):
    """log N(x_o; mean_o, cov_oo) for one row by explicit Cholesky.

    x, mean: (d,); observed: (d,) bool with at least one True; cov: (d, d).
    log N = -1/2 (p log 2 pi + log det S_oo + z^T z), z = L^-1 (x_o - mu_o),
    S_oo = L L^T, p = number of observed cells.
    """
    idx = np.nonzero(observed)[0]
    S_oo = cov[np.ix_(idx, idx)]
    L = np.linalg.cholesky(S_oo)  # raises LinAlgError if S_oo is not PD
    z = solve_triangular(L, x[idx] - mean[idx], lower=True)
    p = idx.size
    return -0.5 * (p * np.log(2.0 * np.pi) + 2.0 * np.sum(np.log(np.diag(L)))
                   + z @ z)


def missing_log_density(X, means, covariances, covariance_type):
    """Per-component log-density of each row's observed cells.

    X: (n, d), NaN = missing; means: (k, d); covariances: shape per
    covariance_type (see full_covariances).  Returns (n, k):
    out[i, c] = log N(x_io; means[c]_o, S_c,oo) over row i's observed
    coordinates o; 0.0 (the log of an empty product) for a row with no
    observed cell.
    """
    _check_covariance_type(covariance_type)
    X = _missing_X(X)
    n, d = X.shape
    means = np.asarray(means, dtype=np.float64).reshape(-1, d)
    k = means.shape[0]
    covs = full_covariances(covariances, covariance_type, k, d)
    out = np.zeros((n, k), dtype=np.float64)
    for i in range(n):
        observed = ~np.isnan(X[i])
        if not observed.any():
            continue
        for c in range(k):
            out[i, c] = _observed_log_density(X[i], observed, means[c], covs[c])
    return out


def _missing_log_joint(X, weights, means, covariances, covariance_type):
    """(X, weights, L) with L[i, c] = log weights[c] + missing_log_density[i, c]."""
    X = _missing_X(X)
    weights = np.asarray(weights, dtype=np.float64).reshape(-1)
    dens = missing_log_density(X, means, covariances, covariance_type)
    with np.errstate(divide="ignore"):
        L = np.log(weights)[None, :] + dens
    return X, weights, L


def missing_loglik_rows(X, weights, means, covariances, covariance_type):
    """Per-row observed-data log-likelihood of a Gaussian mixture.

    X: (n, d), NaN = missing; weights: (k,); means: (k, d); covariances:
    shape per covariance_type.  Returns (n,):
    ll[i] = log sum_c weights[c] N(x_io; means[c]_o, S_c,oo), the missing
    coordinates integrated out; ll[i] = 0.0 for a row with no observed cell.
    """
    X, weights, L = _missing_log_joint(X, weights, means, covariances,
                                       covariance_type)
    ll = logsumexp(L, axis=1)
    ll[np.isnan(X).all(axis=1)] = 0.0
    return ll


def missing_responsibilities(X, weights, means, covariances, covariance_type):
    """Posterior component probabilities from the observed marginals.

    Same arguments as missing_loglik_rows.  Returns (n, k):
    resp[i, c] = weights[c] N(x_io; ...) / sum_c' weights[c'] N(x_io; ...);
    a row with no observed cell gets the weights themselves.
    """
    X, weights, L = _missing_log_joint(X, weights, means, covariances,
                                       covariance_type)
    ll = logsumexp(L, axis=1)
    with np.errstate(invalid="ignore"):
        resp = np.exp(L - ll[:, None])
    resp[np.isnan(X).all(axis=1)] = weights
    return resp


def missing_conditional(x, mean, cov):
    """Conditional moments of one row's missing cells under N(mean, cov).

    x, mean: (d,), NaN in x = missing; cov: (d, d).  Returns (x_hat (d,),
    C (d, d)): x_hat equals x on the observed cells and
    mu_m + S_mo S_oo^-1 (x_o - mu_o) on the missing ones; C is zero except
    for the missing block, which holds S_mm - S_mo S_oo^-1 S_om.  (A row with
    no observed cell gets x_hat = mean, C = cov.)
    """
    x = np.asarray(x, dtype=np.float64)
    mean = np.asarray(mean, dtype=np.float64)
    cov = np.asarray(cov, dtype=np.float64)
    d = x.shape[0]
    mis = np.nonzero(np.isnan(x))[0]
    obs = np.nonzero(~np.isnan(x))[0]
    x_hat = x.copy()
    C = np.zeros((d, d), dtype=np.float64)
    if mis.size == 0:
        return x_hat, C
    S_mm = cov[np.ix_(mis, mis)]
    if obs.size == 0:
        x_hat[mis] = mean[mis]
        C[np.ix_(mis, mis)] = S_mm
        return x_hat, C
    S_oo = cov[np.ix_(obs, obs)]
    S_mo = cov[np.ix_(mis, obs)]
    B = np.linalg.solve(S_oo, S_mo.T).T  # S_mo S_oo^-1, shape (m, o)
    x_hat[mis] = mean[mis] + B @ (x[obs] - mean[obs])
    C[np.ix_(mis, mis)] = S_mm - B @ S_mo.T
    return x_hat, C


def missing_em_step(X, weights, means, covariances, covariance_type, reg_covar,
                    sample_weight=None):
    """One soft EM iteration of a Gaussian mixture on data with NaN cells.

    X: (n, d), NaN = missing, every row with at least one observed cell
    (a ValueError otherwise); weights: (k,); means: (k, d); covariances:
    shape per covariance_type ("full" (k, d, d), "tied" (d, d), "diag" (k, d),
    "spherical" (k,)); reg_covar: added to the diagonal of every new
    covariance; sample_weight: (n,), default ones.

    E-step: resp = missing_responsibilities at the given parameters.  For
    every row i and component c, (x_hat_ic, C_ic) = missing_conditional(x_i,
    means[c], S_c).  With r_ic = sample_weight_i * resp_ic:
      nk_c = sum_i r_ic,  mu_c = sum_i r_ic x_hat_ic / nk_c,
      scatter_c = sum_i r_ic [(x_hat_ic - mu_c)(x_hat_ic - mu_c)^T + C_ic]
                (= S2_c - nk_c mu_c mu_c^T with S2_c = sum_i r_ic (x_hat x_hat^T + C)).
    M-step: weights = (nk + 10 eps) / sum(nk + 10 eps); means = mu;
      full:      scatter_c / nk_c + reg_covar I;
      tied:      sum_c scatter_c / sum_i sample_weight_i + reg_covar I;
      diag:      diag(scatter_c) / nk_c + reg_covar;
      spherical: mean over features of the diag value.
    A component with nk_c == 0 gets NaN means and covariances.

    Returns (weights (k,), means (k, d), covariances in covariance_type's
    shape, loglik), loglik being the sample-weighted mean observed-data
    log-likelihood sum_i w_i ll_i / sum_i w_i AT THE GIVEN parameters.
    """
    _check_covariance_type(covariance_type)
    X = _missing_X(X)
    n, d = X.shape
    empty = np.nonzero(np.isnan(X).all(axis=1))[0]
    if empty.size > 0:
        raise ValueError(f"rows {empty[:10].tolist()} have no observed cell")
    weights = np.asarray(weights, dtype=np.float64).reshape(-1)
    k = weights.shape[0]
    means = np.asarray(means, dtype=np.float64).reshape(k, d)
    covs = full_covariances(covariances, covariance_type, k, d)
    w = _sample_weight(sample_weight, n)

    resp = missing_responsibilities(X, weights, means, covariances, covariance_type)
    ll = missing_loglik_rows(X, weights, means, covariances, covariance_type)
    loglik = float(np.sum(w * ll) / np.sum(w))

    wr = w[:, None] * resp  # (n, k)
    nk = wr.sum(axis=0)
    new_means = np.empty((k, d), dtype=np.float64)
    scatter = np.zeros((k, d, d), dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        for c in range(k):
            x_hat = np.empty((n, d), dtype=np.float64)
            C = np.empty((n, d, d), dtype=np.float64)
            for i in range(n):
                x_hat[i], C[i] = missing_conditional(X[i], means[c], covs[c])
            new_means[c] = (wr[:, c] @ x_hat) / nk[c]
            for i in range(n):
                diff = x_hat[i] - new_means[c]
                scatter[c] += wr[i, c] * (np.outer(diff, diff) + C[i])

        eye = np.eye(d)
        if covariance_type == "full":
            new_covs = np.empty((k, d, d), dtype=np.float64)
            for c in range(k):
                new_covs[c] = scatter[c] / nk[c] + reg_covar * eye
        elif covariance_type == "tied":
            total = np.zeros((d, d), dtype=np.float64)
            for c in range(k):
                if nk[c] == 0:
                    continue  # every term r_ic (...) is zero
                total += scatter[c]
            new_covs = total / w.sum() + reg_covar * eye
        else:
            diag = np.empty((k, d), dtype=np.float64)
            for c in range(k):
                diag[c] = np.diag(scatter[c]) / nk[c] + reg_covar
            new_covs = diag if covariance_type == "diag" else diag.mean(axis=1)

    new_weights = (nk + _NK_TINY) / np.sum(nk + _NK_TINY)
    return new_weights, new_means, new_covs, loglik


def missing_em(X, weights, means, covariances, covariance_type, reg_covar, n_iter,
               sample_weight=None):
    """n_iter soft EM iterations (missing_em_step) from the given parameters.

    Returns (weights, means, covariances, logliks): the parameters after the
    last M-step and the list of n_iter mean observed-data log-likelihoods,
    logliks[t] being at the parameters BEFORE iteration t's M-step (so
    logliks[0] belongs to the given parameters and logliks[-1] is what
    scikit-learn would report as lower_bound_).
    """
    weights = np.asarray(weights, dtype=np.float64).copy()
    means = np.asarray(means, dtype=np.float64).copy()
    covariances = np.asarray(covariances, dtype=np.float64).copy()
    logliks = []
    for _ in range(n_iter):
        weights, means, covariances, loglik = missing_em_step(
            X, weights, means, covariances, covariance_type, reg_covar,
            sample_weight=sample_weight)
        logliks.append(loglik)
    return weights, means, covariances, logliks
