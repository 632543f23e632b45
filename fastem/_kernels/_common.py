"""Pieces shared by every model's kernels: mode codes, per-row weights, label choice."""

import math

import numpy as np

from ._jit import kernel
from .rng import uniform, uniforms4

# Mode codes understood by every one-pass kernel.
SOFT = 0  # posterior responsibilities
HARD = 1  # one-hot at the most probable component (classification EM)
STOCHASTIC = 2  # one-hot draw from the posterior (stochastic EM)
RANDOM = 3  # random responsibilities (initialisation); ignores the parameters
FIXED = 4  # one-hot at a given label (statistics of a given partition, e.g. k-means)

NEG_INF = -np.inf


@kernel(inline="always")
def logsumexp_row(buf, k):
    """Return (log sum exp buf[:k], argmax)."""
    mx = buf[0]
    am = 0
    for c in range(1, k):
        if buf[c] > mx:
            mx = buf[c]
            am = c
    tot = 0.0
    for c in range(k):
        tot += math.exp(buf[c] - mx)
    return mx + math.log(tot), am


@kernel(inline="always")
def mode_weights(buf, k, lse, am, mode, seed, stream, row, given, resp):
    """Fill ``resp[:k]`` with the weights the mode gives the row; return the label.

    ``buf`` holds the row's log joint densities, ``lse`` their log-sum-exp and ``am``
    their argmax.  The label is the argmax for soft/hard/random, the draw for
    stochastic EM and ``given`` for FIXED.
    """
    if mode == SOFT:
        for c in range(k):
            resp[c] = math.exp(buf[c] - lse)
        return am
    if mode == RANDOM:
        tot = 0.0
        for g in range(0, k, 4):
            u0, u1, u2, u3 = uniforms4(seed, stream, row, g // 4)
            resp[g] = u0
            if g + 1 < k:
                resp[g + 1] = u1
            if g + 2 < k:
                resp[g + 2] = u2
            if g + 3 < k:
                resp[g + 3] = u3
        for c in range(k):
            tot += resp[c]
        for c in range(k):
            resp[c] /= tot
        return am
    pick = am
    if mode == FIXED:
        pick = given
    elif mode == STOCHASTIC:
        u = uniform(seed, stream, row)
        cum = 0.0
        for c in range(k):
            p = math.exp(buf[c] - lse)
            if p > 0.0:
                pick = c  # rounding can leave cum < u at the end: keep the last possible c
            cum += p
            if cum > u:
                break
    for c in range(k):
        resp[c] = 0.0
    resp[pick] = 1.0
    return pick



# Helpers for parallel kernels. Inside a parallel=True function Numba turns every array
# expression (np.zeros, a += b[i], np.log(a)) into its own parallel region with a fork and
# a join; a few hundred of those per pass cost milliseconds, and with GNU OpenMP's default
# busy-waiting on a loaded machine, seconds. Serial functions compile to plain loops.
@kernel
def zeros(shape):
    """Zero-filled float64 array, allocated outside any parallel region."""
    return np.zeros(shape)


@kernel
def izeros(n):
    return np.zeros(n, dtype=np.int64)


@kernel
def sum_blocks(p):
    """Sum over the first axis, block 0 first: the same order whatever the thread count."""
    nb = p.shape[0]
    flat = p.reshape((nb, -1))
    m = flat.shape[1]
    out = np.zeros(m, dtype=p.dtype)
    for b in range(nb):
        for j in range(m):
            out[j] += flat[b, j]
    return out.reshape(p.shape[1:])


@kernel
def log_pq(probs):
    """(log p, log(1 - p)) for a (k, d) array of probabilities."""
    return np.log(probs), np.log1p(-probs)
