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

Kernels are dispatched lazily on the argument types; float32 and float64 data each get
their own specialisation.  Parameters and accumulators are always float64.
"""

import numba

FASTMATH = {"nsz", "contract", "afn", "reassoc"}

_FLAGS = dict(cache=True, error_model="numpy", fastmath=FASTMATH, nogil=True)


def kernel(func=None, *, parallel=False, inline="never"):
    """Compile ``func`` with the project's Numba flags.

    Usable bare (``@kernel``) or with options (``@kernel(parallel=True)``).
    """

    def wrap(f):
        return numba.njit(parallel=parallel, inline=inline, **_FLAGS)(f)

    if func is None:
        return wrap
    return wrap(func)
