"""Slow, obvious reference implementations for testing fastem's compiled kernels.

Everything here is written directly from the math with plain numpy/scipy
(explicit loops where that is clearer), in float64 throughout.  Nothing is
optimised and nothing is imported from ``fastem``: the point is to have an
independent answer that the Numba kernels can be compared against.

Contents:
  * binomial mixture log-densities, E-step statistics, M-step and a full EM loop;
  * a pure-Python Philox4x32-10 block function (Salmon et al. 2011, Random123).
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


_M32 = 0xFFFFFFFF


def philox4x32_10(counter, key):
    """Philox4x32-10 block function (Salmon et al. 2011), pure Python ints.

    counter: 4 uint32 ints; key: 2 uint32 ints.  Returns a tuple of 4 uint32.
    Each round: (hi0, lo0) = mulhilo(0xD2511F53, x0), (hi1, lo1) =
    mulhilo(0xCD9E8D57, x2); x = (hi1 ^ x1 ^ k0, lo1, hi0 ^ x3 ^ k1, lo0);
    between rounds the key is bumped by (0x9E3779B9, 0xBB67AE85) mod 2**32.
    Random123 tests/kat_vectors known answers:

    >>> [hex(v) for v in philox4x32_10((0, 0, 0, 0), (0, 0))]
    ['0x6627e8d5', '0xe169c58d', '0xbc57ac4c', '0x9b00dbd8']
    >>> [hex(v) for v in philox4x32_10((_M32,) * 4, (_M32, _M32))]
    ['0x408f276d', '0x41c83b0e', '0xa20bc7c6', '0x6d5451fd']
    >>> [hex(v) for v in philox4x32_10(
    ...     (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
    ...     (0xA4093822, 0x299F31D0))]
    ['0xd16cfe09', '0x94fdcceb', '0x5001e420', '0x24126ea1']
    """
    x0, x1, x2, x3 = (int(v) & _M32 for v in counter)
    k0, k1 = (int(v) & _M32 for v in key)
    for r in range(10):
        if r > 0:
            k0 = (k0 + 0x9E3779B9) & _M32
            k1 = (k1 + 0xBB67AE85) & _M32
        p0 = 0xD2511F53 * x0
        p1 = 0xCD9E8D57 * x2
        hi0, lo0 = p0 >> 32, p0 & _M32
        hi1, lo1 = p1 >> 32, p1 & _M32
        x0, x1, x2, x3 = hi1 ^ x1 ^ k0, lo1, hi0 ^ x3 ^ k1, lo0
    return (x0, x1, x2, x3)


def philox_uniform(seed, stream, row):
    """The uniform in [0, 1) that fastem's stochastic EM draws for (seed, stream, row).

    Documented construction: Philox4x32-10 with counter (row low 32 bits, row high 32
    bits, stream low 32 bits, 0) and key (seed low 32 bits, seed high 32 bits); the
    first two output words give 53 bits, as in ``genrand_res53``.
    """
    m = 0xFFFFFFFF
    x0, x1, _, _ = philox4x32_10((row & m, row >> 32, stream & m, 0), (seed & m, seed >> 32))
    return ((x0 >> 5) * 67108864.0 + (x1 >> 6)) / 9007199254740992.0
