"""The one place where Numba compilation flags are set.

Every compiled function in :mod:`fastem._kernels` is created through :func:`kernel`,
so the flags below hold everywhere:

* ``cache=True``: compiled machine code is stored next to the sources (``__pycache__``)
  and reused by later processes, so only the first call on a machine pays compilation.
* ``error_model="numpy"``: division by zero gives inf/nan instead of raising; kernels
  never raise, they report through their return values.
* ``fastmath`` without ``nnan``/``ninf`` (and without ``arcp``, so x / x stays 1):
  reassociation, contraction and approximate
  functions are allowed, but the compiler may not assume values are finite, because
  ``log(0) = -inf`` is a meaningful value here (a component with zero weight).
* ``nogil=True``: kernels release the GIL, so user threads (and Dask) can run them
  concurrently.

The pass kernels have one fixed signature each (see ``prepared`` below); parameters and
accumulators are always float64.
"""

import threading

import numba
from numba.core import config

FASTMATH = {"nsz", "contract", "afn", "reassoc"}

_FLAGS = dict(cache=True, error_model="numpy", fastmath=FASTMATH, nogil=True)


def kernel(func=None, *, parallel=False, inline="never"):
    """Compile ``func`` with the project's Numba flags.

    Usable bare (``@kernel``) or with options (``@kernel(inline="always")``).  Nothing in
    fastem is ``parallel=True``: see ``fastem._passes``.
    """

    def wrap(f):
        return numba.njit(parallel=parallel, inline=inline, **_FLAGS)(f)

    if func is None:
        return wrap
    return wrap(func)


# --------------------------------------------------------------------------- one signature
# A kernel with a fixed signature is compiled exactly once, for array types that every
# caller's arrays convert to: any layout ('A'), read-only where the kernel only reads, and
# data of both dtypes passed side by side (the unused one empty).  Numba would otherwise
# compile the whole kernel again for each dtype, layout and writeability it meets; for the
# big pass kernels that is most of a cold start.
_I64 = numba.types.int64


def array(dtype, ndim, *, readonly=False):
    """A Numba array type of any layout (``readonly``: the kernel never writes it)."""
    return numba.types.Array(dtype, ndim, "A", readonly=readonly, aligned=False)


def data(ndim=2):
    """Read-only float32 and float64 array types: the two slots of one data argument."""
    return (array(numba.types.float32, ndim, readonly=True),
            array(numba.types.float64, ndim, readonly=True))


def ro(ndim, dtype=numba.types.float64):
    return array(dtype, ndim, readonly=True)


def rw(ndim, dtype=numba.types.float64):
    return array(dtype, ndim)


INT = _I64
I64 = _I64
I32 = numba.types.int32
SEED = numba.types.uint64
BOOL = numba.types.boolean

_prepare_lock = threading.Lock()


def prepared(dispatcher, argtypes):
    """``dispatcher`` with its one specialisation for ``argtypes`` compiled (or loaded from
    the on-disk cache), and compilation of any other switched off: later calls, from
    Python or from compiled code, convert their arguments to it."""
    if config.DISABLE_JIT or dispatcher.signatures:
        return dispatcher
    with _prepare_lock:
        if not dispatcher.signatures:
            dispatcher.compile(tuple(argtypes))
            dispatcher.disable_compile()
    return dispatcher
