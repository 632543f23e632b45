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

