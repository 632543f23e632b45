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
import numpy as np
from llvmlite import ir
from numba.core import cgutils, config
from numba.extending import intrinsic

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


def array(dtype, ndim, *, readonly=False, layout="A"):
    """A Numba array type of any layout (``readonly``: the kernel never writes it)."""
    return numba.types.Array(dtype, ndim, layout, readonly=readonly, aligned=False)


def data(ndim=2, layout="A"):
    """Read-only float32 and float64 array types: the two slots of one data argument.
    ``layout="C"`` for a kernel that reads whole rows, whose loops over a row's features
    then load contiguous vectors (with any layout, one strided scalar at a time); its
    callers pass C-contiguous data."""
    return (array(numba.types.float32, ndim, readonly=True, layout=layout),
            array(numba.types.float64, ndim, readonly=True, layout=layout))


def ro(ndim, dtype=numba.types.float64):
    return array(dtype, ndim, readonly=True)


def rw(ndim, dtype=numba.types.float64):
    return array(dtype, ndim)


INT = _I64
I64 = _I64
I32 = numba.types.int32
F32 = numba.types.float32
F64 = numba.types.float64
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


# --------------------------------------------------------------------------- pieces
# A pass kernel is a loop over chunks of rows that calls *pieces* (load a chunk, its log
# joint densities, the posterior, the mode's weights, the statistics) through their
# machine addresses, handed to it at run time in a table (an int64 array).  So:
#
# * each piece is compiled once, whatever the number of kernels calling it, and never
#   inlined into (or linked and optimised again with) a caller: Numba's typing and
#   lowering of inlined code, once per call site, was most of a cold start;
# * a kernel compiles without its pieces, and the pieces without each other, so the
#   compilations a first fit needs can run in two processes at once (``fastem._compile``);
# * a piece a call does not use (another covariance form, the rare far-outlier repair)
#   is never compiled for it.
#
# A call costs an indirect jump per chunk of rows.  The address is the piece's native
# entry point (Numba's own calling convention, the one a direct call would use, with
# errors such as a bounds-check IndexError passed on); it is only ever taken from the
# piece's one compiled signature, and each call site is typed against that signature,
# so a mismatch is a typing error while compiling, never a bad call.
class Slot:
    """A place in a kernel's table of pieces: the one signature every piece put there has.

    ``slot.call(address, *args)`` inside a kernel calls the piece at ``address``.
    """

    def __init__(self, name, restype, argtypes):
        self.name, self.restype, self.argtypes = name, restype, tuple(argtypes)
        self.call = _native_caller(self) if not config.DISABLE_JIT else _python_caller

    def __repr__(self):
        return f"Slot({self.name})"


class Piece:
    """A :func:`kernel` dispatcher ``fn`` for a slot, called through its address."""

    def __init__(self, name, fn, slot):
        self.name, self.fn, self.slot = name, fn, slot
        self._address = None

    def __repr__(self):
        return f"Piece({self.name})"

    def compiled(self):
        """The dispatcher with its one signature compiled (or loaded from the cache)."""
        d = prepared(self.fn, self.slot.argtypes)
        if not config.DISABLE_JIT:
            got = d.nopython_signatures[0].return_type
            if got != self.slot.restype:  # a programming error: never call with a wrong type
                raise TypeError(f"piece {self.name} returns {got}, its slot "
                                f"{self.slot.restype}")
        return d

    def address(self):
        """Native entry point of the compiled piece (under NUMBA_DISABLE_JIT: the Python
        function itself)."""
        if config.DISABLE_JIT:
            return self.fn
        if self._address is None:
            d = self.compiled()
            cres = d.overloads[d.signatures[0]]
            self._address = cres.library.get_pointer_to_function(cres.fndesc.llvm_func_name)
        return self._address


def table(pieces):
    """The run-time table of a kernel: the pieces' addresses in slot order (a read-only
    int64 array; under NUMBA_DISABLE_JIT a tuple of the Python functions)."""
    if config.DISABLE_JIT:
        return tuple(p.address() for p in pieces)
    out = np.array([p.address() for p in pieces], dtype=np.int64)
    out.setflags(write=False)
    return out


def _python_caller(fn, *args):
    return fn(*args)


def _native_caller(slot):
    """A Numba intrinsic ``call(address, *args)`` calling the piece at ``address``."""

    restype, argtypes = slot.restype, slot.argtypes

    def typer(typingctx, addr, *args):
        if len(args) != len(argtypes) or not isinstance(addr, numba.types.Integer):
            return None
        for got, want in zip(args, argtypes):
            if got != want and typingctx.can_convert(got, want) is None:
                return None

        def codegen(context, builder, signature, llargs):
            vals = [context.cast(builder, v, got, want)
                    for v, got, want in zip(llargs[1:], signature.args[1:], argtypes)]
            fnty = context.call_conv.get_function_type(restype, argtypes)
            fptr = builder.inttoptr(llargs[0], fnty.as_pointer())
            status, res = context.call_conv.call_function(builder, fptr, restype, argtypes,
                                                          vals)
            with cgutils.if_unlikely(builder, status.is_error):
                context.call_conv.return_status_propagate(builder, status)
            return res

        return restype(addr, *args), codegen

    # An intrinsic needs a fixed number of parameters (a star-argument does not lower).
    names = ", ".join(f"a{i}" for i in range(len(argtypes)))
    ns = {"typer": typer}
    exec(f"def call_{slot.name}(typingctx, addr, {names}):\n"  # noqa: S102 - fixed text
         f"    return typer(typingctx, addr, {names})\n", ns)
    return intrinsic(ns[f"call_{slot.name}"])


def c_array(ndim, dtype=numba.types.float64):
    """A C-contiguous Numba array type (the kernels' own scratch arrays and their rows)."""
    return numba.types.Array(dtype, ndim, "C")


NONE = numba.types.none


# --------------------------------------------------------------------------- memory hints
def _prefetch_typer(typingctx, a, i, j):
    """``prefetch(a, i, j)``: ask for the cache line of ``a[i, j]`` (2-D ``a``; ``a[i]`` for a
    1-D ``a``, j ignored) to be brought toward the core (LLVM's prefetch, a read, locality
    1: into the L2 cache; a hint, so it never faults and is never a bounds error, whatever
    the index).

    Why: a Lloyd pass reads the float64 rows of the rows that changed cluster, a sparse,
    irregular subset that the hardware prefetchers do not follow; asking for them ahead
    lets their misses overlap (and, asked for while the next chunk's scores compute,
    hides them).  Locality 1 (the L2 cache), not 3: on a Zen 4 core, a burst of L1
    prefetches changed nothing (the L1's few miss buffers are full after the first
    rows), L2 prefetches halved the rows' cost."""
    if not (isinstance(a, numba.types.Array) and a.ndim in (1, 2)
            and isinstance(i, numba.types.Integer) and isinstance(j, numba.types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        idx = [context.cast(builder, v, t, numba.types.intp)
               for v, t in zip(args[1:], signature.args[1:])][:aryty.ndim]
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, idx)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(1), i32(1)])
        return context.get_dummy_value()

    return numba.types.void(a, i, j), codegen


def _prefetch_at_typer(typingctx, addr):
    """``prefetch_at(addr)``: ``prefetch`` for the byte at address ``addr`` (an integer, as
    ``a.ctypes.data`` gives): for a kernel that hints at rows of an array it is not
    passed (each array argument of a call costs the call its reference counting)."""
    if not isinstance(addr, numba.types.Integer):
        return None

    def codegen(context, builder, signature, args):
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        ptr = builder.inttoptr(args[0], i8p)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(fn, [ptr, i32(0), i32(1), i32(1)])
        return context.get_dummy_value()

    return numba.types.void(addr), codegen


if config.DISABLE_JIT:
    def prefetch(a, i, j):
        """No-op: with the JIT off the kernels run as Python (see ``_prefetch_typer``)."""

    def prefetch_at(addr):
        """No-op (see ``_prefetch_at_typer``)."""
else:
    prefetch = intrinsic(_prefetch_typer)
    prefetch_at = intrinsic(_prefetch_at_typer)
