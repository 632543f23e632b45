"""Vectorisable elementary functions.

Numba has no SVML here, so ``math.exp`` is a scalar libm call that stops the loop
vectoriser. These are written as straight-line arithmetic that LLVM turns into SIMD.
"""

import math

import numpy as np

from ._jit import kernel

_LOG2E = 1.4426950408889634
_LN2_HI = 0.6931471803691238  # ln 2 split so that n * _LN2_HI is exact
_LN2_LO = 1.9082149292705877e-10
_EXP_MIN = -708.0  # below this exp underflows to subnormals; we return 0 instead


@kernel(inline="always")
def _exp_parts(x):
    """exp(x) = p * 2**n with |f| <= ln2 / 2: degree-13 Taylor; relative error about
    2e-16 near 0, growing to ~|x| * 4e-17 (the range reduction's rounding)."""
    x = max(x, _EXP_MIN)
    n = math.floor(x * _LOG2E + 0.5)
    f = x - n * _LN2_HI - n * _LN2_LO
    p = 1.0 / 6227020800.0
    p = p * f + 1.0 / 479001600.0
    p = p * f + 1.0 / 39916800.0
    p = p * f + 1.0 / 3628800.0
    p = p * f + 1.0 / 362880.0
    p = p * f + 1.0 / 40320.0
    p = p * f + 1.0 / 5040.0
    p = p * f + 1.0 / 720.0
    p = p * f + 1.0 / 120.0
    p = p * f + 1.0 / 24.0
    p = p * f + 1.0 / 6.0
    p = p * f + 0.5
    p = p * f + 1.0
    p = p * f + 1.0
    return p, np.int64(n)


@kernel(inline="always")
def exp_nonpos(x, m, bits):
    """``x[:m] = exp(x[:m])`` in place for values <= ~0; ``bits`` is int64 scratch (>= m).

    Values below -708 (including -inf) give exactly 0.
    """
    for r in range(m):
        v = x[r]
        p, n = _exp_parts(v)
        bits[r] = (n + 1023) << 52
        x[r] = p if v >= _EXP_MIN else 0.0
    scale = bits.view(np.float64)
    for r in range(m):
        x[r] *= scale[r]


_SQRT2 = 1.4142135623730951
_LN2 = 0.6931471805599453
_MANT = np.int64((1 << 52) - 1)
_EXP_ONE = np.int64(1023 << 52)


@kernel(inline="always")
def log_pos(x, m, bits):
    """``x[:m] = log(x[:m])`` in place for positive, normal, finite values; ``bits`` is
    int64 scratch (>= m).

    x = 2**e * f with f in [sqrt(1/2), sqrt(2)); log f = 2 atanh(s), s = (f - 1)/(f + 1),
    |s| < 0.172, by its odd series to s**23 (relative error ~1e-16).  Straight-line
    arithmetic and integer bit operations, so the loops vectorise (``math.log`` is a
    scalar libm call here).
    """
    fb = bits.view(np.float64)
    for r in range(m):
        fb[r] = x[r]
    for r in range(m):
        b = bits[r]
        e = (b >> 52) - 1023
        bits[r] = (b & _MANT) | _EXP_ONE
        x[r] = np.float64(e)
    for r in range(m):
        f = fb[r]
        big = f > _SQRT2
        f = f * 0.5 if big else f
        e = x[r] + 1.0 if big else x[r]
        s = (f - 1.0) / (f + 1.0)
        z = s * s
        p = 1.0 / 23.0
        p = p * z + 1.0 / 21.0
        p = p * z + 1.0 / 19.0
        p = p * z + 1.0 / 17.0
        p = p * z + 1.0 / 15.0
        p = p * z + 1.0 / 13.0
        p = p * z + 1.0 / 11.0
        p = p * z + 1.0 / 9.0
        p = p * z + 1.0 / 7.0
        p = p * z + 1.0 / 5.0
        p = p * z + 1.0 / 3.0
        p = p * z + 1.0
        x[r] = e * _LN2 + 2.0 * s * p
