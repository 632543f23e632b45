"""Counter-based random numbers: SplitMix64 (Steele, Lea & Flood, OOPSLA 2014).

A draw is a pure function of (seed, stream, counter): no generator state is carried
between rows, so any block schedule and any thread count produce the same numbers.

SplitMix64 started at state ``s`` returns ``mix64(s + j * GAMMA)`` as its j-th output
(j = 1, 2, ...), where ``mix64`` is Stafford's "Mix13" finaliser (a bijection on 64-bit
words).  fastem derives one state per (seed, stream) and then reads the generator at the
row's position:

    key(seed, stream)        = output (stream + 1) of SplitMix64 started at mix64(seed)
    bits(seed, stream, j)    = output (j + 1) of SplitMix64 started at key(seed, stream)
    uniform(seed, stream, j) = (bits >> 11) * 2**-53, in [0, 1) with 53 random bits

Why SplitMix64 rather than Philox4x32-10 (used before): a draw is two 64-bit multiplies
and three xor-shifts, which LLVM vectorises over the rows of a tile (AVX-512 ``vpmullq``),
against twenty 32-bit multiplies per Philox block.  In the (1e6, 2, 3) Gaussian pass the
draws went from about 1 ns per row to almost nothing, and the stochastic pass from
1.20-1.27x to 1.08-1.14x the soft pass.  As a sequence, SplitMix64 passes TestU01's
BigCrush.  All arithmetic is on uint64 and wraps modulo 2**64, compiled or not.
"""

import functools

import numpy as np
from numba.core import config

from ._jit import kernel

GAMMA = np.uint64(0x9E3779B97F4A7C15)
_C1 = np.uint64(0xBF58476D1CE4E5B9)
_C2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_ONE = np.uint64(1)
_TWO53_INV = 1.0 / 9007199254740992.0


@kernel(inline="always")
def mix64(z):
    """Stafford's Mix13 finaliser, the output function of SplitMix64."""
    z = (z ^ (z >> _S30)) * _C1
    z = (z ^ (z >> _S27)) * _C2
    return z ^ (z >> _S31)


@kernel(inline="always")
def stream_key(seed, stream):
    """The SplitMix64 state that counter 0 of (seed, stream) follows."""
    return mix64(mix64(np.uint64(seed)) + (np.uint64(stream) + _ONE) * GAMMA)


@kernel(inline="always")
def bits_at(key, j):
    """64 random bits at counter j of the stream whose state is ``key``."""
    return mix64(key + (np.uint64(j) + _ONE) * GAMMA)


@kernel(inline="always")
def uniform(seed, stream, row):
    """One uniform float64 in [0, 1) with 53 random bits, keyed by (seed, stream, row)."""
    return np.float64(bits_at(stream_key(seed, stream), row) >> _S11) * _TWO53_INV


@kernel(inline="always")
def scale_by_uniforms(acc, m, seed, stream, start):
    """acc[r] *= uniform(seed, stream, start + r) for r < m (a loop that vectorises)."""
    key = stream_key(seed, stream)
    for r in range(m):
        acc[r] *= np.float64(bits_at(key, start + r) >> _S11) * _TWO53_INV


@kernel(inline="always")
def open_uniform(key, j):
    """Uniform in (0, 1), never 0, at counter j (53 random bits, centred in its cell)."""
    return (np.float64(bits_at(key, j) >> _S11) + 0.5) * _TWO53_INV


def _wrapping(f):
    @functools.wraps(f)
    def call(*args):
        with np.errstate(over="ignore"):
            return f(*args)
    return call


if config.DISABLE_JIT:  # plain Python: NumPy warns on the uint64 wrap-around SplitMix64 means
    mix64 = _wrapping(mix64)
    stream_key = _wrapping(stream_key)
    bits_at = _wrapping(bits_at)
