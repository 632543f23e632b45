"""Process-wide switches that compiled kernels read at run time.

Numba freezes Python globals into compiled code as constants, so a switch that must change
while the process runs (after a ``fork``, say) has to live in memory the kernels load from.
That memory is a small ctypes array registered with LLVM under a fixed symbol name: the
compiled code refers to the symbol, not to an address, so it survives the on-disk cache
(each process registers its own array before any kernel is loaded).

Slot ``SERIAL``: when non-zero, every parallel kernel runs its fixed blocks in a plain loop
on the calling thread instead of launching Numba's thread pool.  The blocks and the order
of the reduction are the same, so results are bit-identical either way.  It is set

* in a child forked from a process whose GNU OpenMP pool was already running: libgomp
  cannot run in such a child (Numba terminates the child on its first parallel launch);
* when ``NUMBA_BOUNDSCHECK`` is on: Numba drops exceptions raised inside a parallel
  region, so an out-of-bounds index is only reported on the serial path;
* by ``FASTEM_SERIAL=1`` in the environment (e.g. to profile one thread).

Every function that reads the switch also records, in its compile result, that Numba's
threading layer must be started before it runs.  Numba does this itself for a function
that contains a parallel loop, but it forgets it when such a function is loaded from the
on-disk cache and then linked into a newly compiled caller: the caller is cached without
it, and a later process that loads only the caller jumps to the thread pool's entry
points before they exist (a segfault).  The parallel kernels here all sit under a
function that reads the switch, so the record travels with every entry point.
"""

import ctypes
import os

from llvmlite import binding as _llvm
from llvmlite import ir as _ir
from numba.core import config, types
from numba.core.typed_passes import _reload_parfors
from numba.extending import intrinsic

SERIAL = 0
_N_SLOTS = 4
_SYMBOL = "fastem_kernel_state_v1"

_STATE = (ctypes.c_int64 * _N_SLOTS)()
_llvm.add_symbol(_SYMBOL, ctypes.addressof(_STATE))


@intrinsic
def _load_slot(typingctx, slot):
    if not isinstance(slot, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        # Start the threading layer when this function is loaded from the cache (above).
        context.active_code_library._reload_init.add(_reload_parfors)
        module = builder.module
        gv = module.globals.get(_SYMBOL)
        if gv is None:
            gv = _ir.GlobalVariable(module, _ir.ArrayType(_ir.IntType(64), _N_SLOTS), _SYMBOL)
            gv.linkage = "external"
        index = builder.sext(args[0], _ir.IntType(64)) if args[0].type.width < 64 else args[0]
        ptr = builder.gep(gv, [_ir.Constant(_ir.IntType(32), 0), index])
        # Atomic (monotonic) so that LLVM reloads it rather than hoisting or caching it.
        return builder.load_atomic(ptr, "monotonic", 8)

    return types.int64(slot), codegen


if config.DISABLE_JIT:
    def serial_only():
        return _STATE[SERIAL] != 0
else:
    from ._jit import kernel

    @kernel(inline="always")
    def serial_only():
        """True when parallel kernels must run their blocks on the calling thread."""
        return _load_slot(SERIAL) != 0


def set_serial(flag):
    """Force (True) or release (False) serial execution of every kernel in this process."""
    _STATE[SERIAL] = 1 if flag else 0


def _gnu_openmp_running():
    """True if this process has started Numba's thread pool on GNU OpenMP."""
    try:
        from numba.np.ufunc import parallel

        if not parallel._is_initialized:
            return False
        import numba

        if numba.threading_layer() != "omp":
            return False
        from numba.np.ufunc import omppool

        return getattr(omppool, "openmp_vendor", "GNU") == "GNU"
    except Exception:  # no threading layer loaded, or an unknown Numba internal layout
        return False


def _after_fork_in_child():
    if _gnu_openmp_running():
        _STATE[SERIAL] = 1


if config.BOUNDSCHECK or os.environ.get("FASTEM_SERIAL", "0") not in ("", "0"):
    _STATE[SERIAL] = 1
os.register_at_fork(after_in_child=_after_fork_in_child)
