"""Counter-based random numbers (Philox4x32-10, Salmon et al., SC'11).

A draw is a pure function of (seed, stream, row): no generator state is carried between
rows, so any block schedule and any thread count produce the same numbers.  All
arithmetic is on 32-bit values held in uint64, so the 32x32-bit products never
overflow and the same code runs unchanged as plain Python (``NUMBA_DISABLE_JIT=1``).
"""

import numpy as np

from ._jit import kernel

_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_W0 = np.uint64(0x9E3779B9)
_W1 = np.uint64(0xBB67AE85)
_LO = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_S5 = np.uint64(5)
_S6 = np.uint64(6)
_TWO26 = 67108864.0
_TWO53_INV = 1.0 / 9007199254740992.0
_TWO32_INV = 1.0 / 4294967296.0


@kernel(inline="always")
def philox4x32_10(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 block function on uint64-held 32-bit words; returns 4 words."""
    for _ in range(10):
        p0 = _M0 * c0
        p1 = _M1 * c2
        n0 = (p1 >> _S32) ^ c1 ^ k0
        n2 = (p0 >> _S32) ^ c3 ^ k1
        c0, c1, c2, c3 = n0, p1 & _LO, n2, p0 & _LO
        k0 = (k0 + _W0) & _LO
        k1 = (k1 + _W1) & _LO
    return c0, c1, c2, c3


@kernel(inline="always")
def _words(seed, stream, row, lane):
    s = np.uint64(seed)
    r = np.uint64(row)
    t = np.uint64(stream)
    return philox4x32_10(r & _LO, r >> _S32, t & _LO, np.uint64(lane), s & _LO, s >> _S32)


@kernel(inline="always")
def uniform(seed, stream, row):
    """One uniform float64 in [0, 1) with 53 random bits, keyed by (seed, stream, row)."""
    x0, x1, _, _ = _words(seed, stream, row, 0)
    return (np.float64(x0 >> _S5) * _TWO26 + np.float64(x1 >> _S6)) * _TWO53_INV


@kernel(inline="always")
def uniforms4(seed, stream, row, lane):
    """Four uniforms in (0, 1) with 32 random bits each; ``lane`` selects the group."""
    x0, x1, x2, x3 = _words(seed, stream, row, lane + 1)
    return (
        (np.float64(x0) + 0.5) * _TWO32_INV,
        (np.float64(x1) + 0.5) * _TWO32_INV,
        (np.float64(x2) + 0.5) * _TWO32_INV,
        (np.float64(x3) + 0.5) * _TWO32_INV,
    )
