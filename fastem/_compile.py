"""What each call compiles, and compiling it on two processes when much of it is missing.

Every compiled function of fastem has one fixed signature (see ``_kernels._jit``), so
the list below is complete: a kernel or piece name, its dispatcher, its signature, and
roughly how long it takes to compile (seconds on a 2.8 GHz core), used to share the work.

A first fit on a machine with an empty cache needs a dozen of them, and none needs
another (the pass kernels call their pieces through addresses, not by linking them in).
:func:`ensure` therefore starts a child process that compiles about half of what is
missing into Numba's on-disk cache while this process compiles the other half, then
loads the child's half from the cache: a cold first fit takes about half the time.
Set ``FASTEM_COMPILE_JOBS=1`` to compile in the calling process only.  Should the child
fail or write elsewhere (a cache directory set in this process only), this process
compiles the rest itself: results never depend on the child, only the time does.
"""

import json
import os
import subprocess
import sys
import threading

from numba.core import config

# Child start-up (interpreter, NumPy, Numba, fastem), counted in the child's share.
_CHILD_START = 1.0
# Less missing work than this is compiled here: a child would not pay for itself.
_MIN_PARALLEL = 3.0

_lock = threading.Lock()
_ready = set()  # names known compiled or loaded in this process


def items():
    """{name: (dispatcher, signature, cost)} of every compiled function."""
    from ._kernels import binomial as kb
    from ._kernels import gaussian as kg
    from ._kernels import gaussian_missing as kgm
    from ._kernels import kmeans as kk

    costs = {"load": 0.3, "prep_none": 0.2, "prep_tied": 0.3, "log_joint_full": 1.9,
             "log_joint_tied": 1.6, "log_joint_diag": 0.8, "posterior": 1.2, "rescue": 1.2,
             "weights": 2.3, "weights_basic": 1.6, "stats_full": 2.1, "stats_tied": 2.1,
             "stats_diag": 0.8, "outputs": 1.5}
    costs.update(weights_random=0.8, binomial_load=0.6, binomial_log_joint=0.4,
                 binomial_rescue=0.8, binomial_stats=0.5, binomial_coef=0.4)
    out = {f"gaussian piece {name}": (p.fn, p.slot.argtypes, costs.get(name, 1.0))
           for name, p in kg.PIECES.items()}
    out.update({f"binomial piece {name}": (p.fn, p.slot.argtypes, costs.get(p.name, 1.0))
                for name, p in kb.PIECES.items()})
    out.update({
        "gaussian pass": (kg.gauss_pass_blocks, kg.PASS_SIGNATURE, 1.0),
        "gaussian rows": (kg.gauss_rows_blocks, kg.PASS_SIGNATURE, 0.8),
        "finite check": (kg.finite_blocks, kg.CHECK_SIGNATURE, 0.3),
        "missing-data pass": (kgm.missing_blocks, kgm.MISSING_SIGNATURE, 8.0),
        "missing-data check": (kgm.check_missing, kgm.CHECK_SIGNATURE, 0.3),
        "missing-data patterns": (kgm.group_rows, kgm.GROUP_SIGNATURE, 0.4),
        "missing-data rows": (kgm.place_rows, kgm.PLACE_SIGNATURE, 0.2),
        "Lloyd pass": (kk.lloyd_blocks, kk.LLOYD_SIGNATURE, 0.9),
        "bounded Lloyd pass": (kk.lloyd_bounded_blocks, kk.LLOYD_BOUNDED_SIGNATURE, 1.2),
        "shadow Lloyd pass": (kk.lloyd_shadow_blocks, kk.LLOYD_SHADOW_SIGNATURE, 1.5),
        "float32 copy": (kk.shadow_blocks, kk.SHADOW_SIGNATURE, 0.4),
        "column moments": (kk.moment_blocks, kk.MOMENT_SIGNATURE, 0.8),
        "inertia": (kk.inertia_blocks, kk.INERTIA_SIGNATURE, 0.3),
        "binomial pass": (kb.binomial_blocks, kb.PASS_SIGNATURE, 0.9),
        "binomial rows": (kb.binomial_rows_blocks, kb.PASS_SIGNATURE, 0.7),
        "binomial coefficients": (kb.coef_blocks, kb.COEF_SIGNATURE, 0.5),
        "binomial M-step": (kb.binomial_mstep, kb.MSTEP_SIGNATURE, 0.8),
        "binomial log p": (kb.log_pq, kb.LOG_PQ_SIGNATURE, 0.6),
    })
    return out


# What data with NaN cells (missing values) compile besides a complete-data fit's names.
MISSING_DATA = ("missing-data check", "missing-data pass", "missing-data patterns",
                "missing-data rows")


def gaussian_fit(covariance_type, mode, init_params):
    """Names a Gaussian fit compiles, or () for an unknown parameter value."""
    from ._kernels._common import FIXED, RANDOM, SOFT
    from ._kernels.gaussian import pass_pieces

    form = {"full": "full", "tied": "tied", "diag": "diag", "spherical": "diag"}.get(
        covariance_type)
    code = {"soft": SOFT, "hard": 1, "stochastic": 2}.get(mode)
    if form is None or code is None:
        return ()
    init = RANDOM if init_params == "random" else FIXED  # random or given responsibilities
    pieces = {p.name for m in (code, init) for p in pass_pieces(form, m)}
    kmeans = ("column moments", "Lloyd pass") if init_params in ("kmeans", "auto") else ()
    return ("finite check", *kmeans, "gaussian pass",
            *sorted(f"gaussian piece {n}" for n in pieces))


def _piece_names(pieces):
    from ._kernels import binomial as kb

    own = {id(p): name for name, p in kb.PIECES.items()}
    return sorted(f"binomial piece {own[id(p)]}" if id(p) in own else f"gaussian piece {p.name}"
                  for p in pieces)


def binomial_fit(mode, init_params):
    """Names a binomial fit compiles, or () for an unknown parameter value."""
    from ._kernels._common import RANDOM, SOFT
    from ._kernels.binomial import coef_pieces, pass_pieces

    code = {"soft": SOFT, "hard": 1, "stochastic": 2}.get(mode)
    if code is None:
        return ()
    modes = (code, RANDOM) if init_params == "random" else (code,)
    pieces = {id(p): p for m in modes for p in pass_pieces(m)}
    pieces.update({id(p): p for p in coef_pieces()})
    return ("binomial pass", "binomial coefficients", "binomial M-step", "binomial log p",
            *_piece_names(pieces.values()))


def binomial_rows():
    """Names that the binomial per-row outputs compile."""
    from ._kernels.binomial import rows_pieces

    return ("binomial rows", "binomial log p", *_piece_names(rows_pieces()))


def gaussian_rows(covariance_type):
    """Names that per-row outputs (predict, score_samples, ...) compile."""
    from ._kernels.gaussian import rows_pieces

    form = {"full": "full", "tied": "tied", "diag": "diag", "spherical": "diag"}.get(
        covariance_type)
    if form is None:
        return ()
    # a full model with one component is served by the shared (tied) pieces as well
    forms = ("full", "tied") if form == "full" else (form,)
    pieces = {p.name for f in forms for p in rows_pieces(f)}
    return ("finite check", "gaussian rows", *sorted(f"gaussian piece {n}" for n in pieces))


def jobs():
    """Processes that may compile at once: ``FASTEM_COMPILE_JOBS`` (1 or 2), else 2 when
    the machine has two cores or more."""
    value = os.environ.get("FASTEM_COMPILE_JOBS", "")
    if value.strip():
        try:
            return 2 if int(value) >= 2 else 1
        except ValueError:
            return 1
    return 2 if (os.cpu_count() or 1) >= 2 else 1


def is_cached(fn, sig):
    """Whether Numba's on-disk cache holds ``fn`` for ``sig`` (looked up in its index, not
    loaded); False when that cannot be told."""
    try:
        cache = fn._cache
        index = cache._cache_file._load_index()
        return cache._index_key(tuple(sig), fn.targetctx.codegen()) in index
    except Exception:  # another Numba's internals, or no cache: compile as usual
        return False


def _prepare(names, table):
    from ._kernels._jit import prepared

    for name in names:
        fn, sig, _ = table[name]
        prepared(fn, sig)


def compile_names(names):
    """Compile (or load) ``names`` in this process (the child's entry point)."""
    _prepare(names, items())


def _start_child(names, verbose=False):
    code = ("import sys, json; sys.path[:0] = json.loads(sys.argv[1]); "
            "from fastem._compile import compile_names; compile_names(json.loads(sys.argv[2]))")
    out = None if verbose else subprocess.DEVNULL
    try:
        return subprocess.Popen([sys.executable, "-c", code, json.dumps(sys.path),
                                 json.dumps(list(names))], stdout=out, stderr=out,
                                stdin=subprocess.DEVNULL)
    except (OSError, ValueError):  # no subprocesses here: all is compiled in this process
        return None


def _wait(child, expected):
    """Wait for the child, but never for ever: past a generous multiple of its expected
    time it is stopped, and this process compiles whatever the cache does not hold."""
    try:
        child.wait(timeout=120.0 + 20.0 * expected)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def split(names, table, n_jobs):
    """(this process's share, the child's share) of ``names``: the larger costs first, each
    to the process with less work so far (the child starts with its start-up time)."""
    mine, child = [], []
    if n_jobs < 2:
        return list(names), child
    load = [0.0, _CHILD_START]
    for name in sorted(names, key=lambda n: -table[n][2]):
        who = 0 if load[0] <= load[1] else 1
        (mine, child)[who].append(name)
        load[who] += table[name][2]
    return mine, child


def ensure(names, n_jobs=None, verbose=False):
    """Compile (or load from the cache) every function in ``names``, with a child process
    compiling part of what is missing when that saves time (see the module docstring)."""
    names = [n for n in names if n not in _ready]
    if not names:
        return
    with _lock:
        table = items()
        if config.DISABLE_JIT:
            _ready.update(names)
            return
        missing = [n for n in names if not table[n][0].signatures
                   and not is_cached(table[n][0], table[n][1])]
        n_jobs = jobs() if n_jobs is None else n_jobs
        if sum(table[n][2] for n in missing) < _MIN_PARALLEL:
            n_jobs = 1
        mine, theirs = split(missing, table, n_jobs)
        child = _start_child(theirs, verbose) if theirs else None
        if child is None:
            mine += theirs
        try:
            _prepare(mine, table)
        finally:
            if child is not None:
                _wait(child, sum(table[n][2] for n in theirs))
        _prepare(names, table)  # the child's share loads from the cache (or compiles here)
        _ready.update(names)
