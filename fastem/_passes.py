"""Runs the compiled block kernels: the Python side of every pass over the data.

Each pass kernel in :mod:`fastem._kernels` processes a range of fixed row blocks on the
calling thread and writes each block's partial statistics into its own slot.  Here the
block range is split into contiguous pieces, one per thread, the pieces run on a thread
pool (the kernels release the GIL), and the slots are added in block order.  The blocks
depend on the data's shape only, so results are bit-identical for any number of threads.

Why threads from Python rather than Numba's ``prange``: a parallel Numba function is a
second, larger compilation of the loop it wraps (the parfor machinery plus a copy of the
serial kernel in every caller), which made up most of fastem's cold start; and a plain
thread pool needs no threading layer, so a forked child, a signal or a bounds-check
exception behave as in any Python code.

The number of threads: ``numba.get_num_threads()`` when Numba's thread pool has been
started (so ``numba.set_num_threads`` keeps working), else ``NUMBA_NUM_THREADS``;
``FASTEM_SERIAL=1`` in the environment runs everything on the calling thread.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from numba import types as _t
from numba.core import config
from numba.core.errors import TypingError as _TypingError
from numba.extending import overload as _overload
from numba.extending import register_jitable as _jitable

from ._kernels import binomial as _kb
from ._kernels import gaussian as _kg
from ._kernels import gaussian_missing as _kgm
from ._kernels import kmeans as _kk
from ._kernels._common import CHUNK, ROWS
from ._kernels._common import sum_blocks as _sum_c
from ._kernels._jit import prepared, table

EMPTY_F64 = np.empty(0)
EMPTY_I32 = np.empty(0, dtype=np.int32)
EMPTY_I64 = np.empty(0, dtype=np.int64)
_EMPTY_2D = np.empty((0, 0))
_NO_F32 = {}  # (d,) -> empty float32 (0, d) array
_NO_F64 = {}

BINOMIAL_BLOCK = 4096  # rows per block of the binomial kernels
_MAX_TRIALS = 2.0**53  # above this, float64 no longer holds every integer
ROWS_BLOCK = 16 * CHUNK  # rows per block for per-row outputs (any size gives the same bits)

_pool = None
_pool_size = 0
_pool_pid = None
_pool_lock = threading.Lock()


def _after_fork_in_child():
    # Another thread may have held the lock at the fork; the pool's threads are gone.
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def numba_threads():
    """This thread's ``numba.get_num_threads()`` if Numba's thread pool is running, else None
    (asking would start it)."""
    try:
        from numba.np.ufunc import parallel

        if parallel._is_initialized:
            return numba.get_num_threads()
    except Exception:  # an unknown Numba internal layout: fall back to the configuration
        pass
    return None


_thread_cap = threading.local()


class threads_per_pass:
    """``with threads_per_pass(n):`` passes started by this thread use at most ``n`` threads
    (a Dask block task: Dask already runs one task per worker thread)."""

    def __init__(self, n):
        self.n = n

    def __enter__(self):
        self.before = getattr(_thread_cap, "n", None)
        _thread_cap.n = self.n

    def __exit__(self, *exc):
        _thread_cap.n = self.before


def n_threads():
    """Threads a pass may use (see the module docstring)."""
    if os.environ.get("FASTEM_SERIAL", "0") not in ("", "0"):
        return 1
    cap = getattr(_thread_cap, "n", None)
    if cap is not None:
        return cap
    t = numba_threads()
    return max(1, int(config.NUMBA_NUM_THREADS if t is None else t))


def _executor(size):
    global _pool, _pool_size, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_size < size or _pool_pid != os.getpid():
            # A pool inherited through fork has no threads: make a new one.
            _pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="fastem-pass")
            _pool_size, _pool_pid = size, os.getpid()
        return _pool


def run_blocks(kernel, nb, *args):
    """``kernel(b0, b1, *args)`` over blocks 0..nb, split into contiguous ranges on threads."""
    t = min(n_threads(), nb)
    if t <= 1:
        kernel(0, nb, *args)
        return
    cuts = [nb * i // t for i in range(t + 1)]
    pool = _executor(t)
    futures = [pool.submit(kernel, cuts[i], cuts[i + 1], *args) for i in range(1, t)]
    try:
        kernel(cuts[0], cuts[1], *args)  # the calling thread takes the first range
    finally:
        errors = []
        for f in futures:
            try:
                f.result()
            except BaseException as exc:  # noqa: PERF203 - wait for every range
                errors.append(exc)
    if errors:
        raise errors[0]


def sum_blocks(p):
    """Sum over the first axis, block 0 first: the same bits whatever the thread count
    (and as the compiled ``_common.sum_blocks``).  A running sum (cumsum) in one call: a
    Python loop cost milliseconds over the thousands of blocks of a large binomial pass,
    and ``sum`` would add a 1-D array pairwise, in another order."""
    if p.shape[0] == 0:
        return np.zeros(p.shape[1:], dtype=p.dtype)
    return np.cumsum(p, axis=0)[-1]


def slots(X):
    """The data in the kernels' two slots: (float32 array, float64 array), one empty."""
    d = X.shape[1]
    if X.dtype == np.float64:
        no = _NO_F32.get(d)
        if no is None:
            no = _NO_F32[d] = np.empty((0, d), dtype=np.float32)
        return no, X
    no = _NO_F64.get(d)
    if no is None:
        no = _NO_F64[d] = np.empty((0, d))
    return X, no


def _seed(seed):
    return np.uint64(int(seed) % (1 << 64))


def _f64(a):
    return np.ascontiguousarray(a, dtype=np.float64)


# --------------------------------------------------------------------------- Gaussian
_TABLES = {}  # (form, weights piece) -> the table of pieces of a Gaussian kernel


def gauss_kernel(form, mode=None):
    """(compiled kernel, its table of pieces) for a precision form ("full", "tied" or
    "diag"; with "_rows" appended, the kernel of per-row outputs) and a statistics pass's
    mode (None: any mode)."""
    rows = form.endswith("_rows")
    key = (form, "" if rows else _kg.weights_piece(mode))
    fns = _TABLES.get(key)
    if fns is None:
        pieces = _kg.rows_pieces(form[:-5]) if rows else _kg.pass_pieces(form, mode)
        fns = _TABLES[key] = table(pieces)
    kern = _kg.gauss_rows_blocks if rows else _kg.gauss_pass_blocks
    return prepared(kern, _kg.PASS_SIGNATURE), fns


def gauss_table(code):
    """The table of pieces for a form code (0 full, 1 tied, 2 diag; plus 3 for the per-row
    kernel), for compiled callers, which fetch it at run time (an address is valid only in
    the process that compiled or loaded the piece)."""
    form = ("full", "tied", "diag")[code % 3] + ("_rows" if code >= 3 else "")
    return gauss_kernel(form)[1]


@_jitable  # plain Python for the models; compiled into the public kernels' @njit callers
def block_rows(n, k, d, ks):
    """Rows per block: a function of the shape only, never of the thread count.

    At most 128 blocks, and few enough that the per-block partial statistics
    (``ks`` second-moment matrices of d x d) stay within about 4 MB.
    """
    per_block = 8 * (k + k * d + ks * d * d)
    nb_max = min(128, max(4, (4 << 20) // per_block))
    return max(256, (n + nb_max - 1) // nb_max)


def gauss_pass(X, w, log_weights, means, prec, log_det, full, mode, seed, stream, labels,
               block, tied, center, row0=0):
    """One EM pass over X; returns (nk, s1, s2, sq, loglik, n_changed).

    ``row0``: the index of X's first row in the whole data (a chunk's offset), by which the
    random modes draw, so that a chunked pass draws as an unchunked one.

    ``full``: ``prec`` holds (k, d, d) upper-triangular Cholesky factors of the precisions
    ((1, d, d) when ``tied``), otherwise (k, 1, d) inverse standard deviations.  ``s2``:
    (k, d, d) about each component's mean (full), (1, d, d) about ``center`` (tied),
    (0, d, d) for the diagonal forms, whose squares come in ``sq`` (k, d) ((0, d) else).
    """
    n, d = X.shape
    k = means.shape[0]
    form = ("tied" if tied else "full") if full else "diag"
    ks = (1 if tied else k) if full else k
    nb = (n + block - 1) // block
    p_nk = np.zeros((nb, k))
    p_s1 = np.zeros((nb, k, d))
    p_s2 = np.zeros((nb, ks, d, d) if full else (nb, k, 1, d))
    p_ll = np.zeros(nb)
    p_ch = np.zeros(nb, dtype=np.int64)
    XS, XD = slots(X)
    kern, fns = gauss_kernel(form, int(mode))
    run_blocks(kern, nb, block, XS, XD, w, log_weights, means, prec, log_det, center,
               int(mode), _seed(seed), int(stream), labels, p_nk, p_s1, p_s2, p_ll, p_ch,
               EMPTY_F64, _EMPTY_2D, EMPTY_I64, _EMPTY_2D, fns, int(row0))
    return _pass_sums(p_nk, p_s1, p_s2, p_ll, p_ch, full)


def _pass_sums(p_nk, p_s1, p_s2, p_ll, p_ch, full):
    """A statistics pass's block slots added in block order: (nk, s1, s2, sq, loglik,
    n_changed), the second moments mirrored from their upper triangles."""
    d = p_s1.shape[2]
    nk, s1, s2 = sum_blocks(p_nk), sum_blocks(p_s1), sum_blocks(p_s2)
    if full:
        for c in range(s2.shape[0]):  # mirror the upper triangle
            s2[c] = np.triu(s2[c]) + np.triu(s2[c], 1).T
        sq = np.zeros((0, d))
    else:
        sq, s2 = s2[:, 0, :], np.zeros((0, d, d))
    return nk, s1, s2, sq, float(sum_blocks(p_ll)), int(sum_blocks(p_ch))


def gauss_rows(X, log_weights, means, prec, log_det, full, out_ll, out_resp, out_labels,
               out_logd):
    """Per-row outputs at fixed parameters; each is skipped when passed empty.

    ``out_ll`` (n,) log-likelihood, ``out_resp`` (n, k) posterior, ``out_labels`` (n,)
    int64 argmax, ``out_logd`` (n, k) log weight + log density (``log_weights`` of zeros
    give the plain densities).  ``prec`` as in :func:`gauss_pass`; (1, d, d) for a full
    form with k > 1 is a shared (tied) factor.
    """
    n, d = X.shape
    k = means.shape[0]
    form = ("tied" if prec.shape[0] != k else "full") if full else "diag"
    XS, XD = slots(X)
    nb = (n + ROWS_BLOCK - 1) // ROWS_BLOCK
    kern, fns = gauss_kernel(form + "_rows")
    run_blocks(kern, nb, ROWS_BLOCK, XS, XD, EMPTY_F64, log_weights, means, prec, log_det,
               EMPTY_F64, ROWS, np.uint64(0), 0, EMPTY_I32, _EMPTY_2D, np.zeros((0, 0, 0)),
               np.zeros((0, 0, 0, 0)), EMPTY_F64, EMPTY_I64, out_ll, out_resp, out_labels,
               out_logd, fns, 0)


def check_finite(X):
    """First (row, col) of X holding NaN or infinity, or (-1, -1); one parallel read."""
    n = X.shape[0]
    if n == 0 or X.shape[1] == 0:
        return -1, -1
    block = max(4096, (n + 127) // 128)
    nb = (n + block - 1) // block
    p_at = np.empty(nb, dtype=np.int64)
    run_blocks(prepared(_kg.finite_blocks, _kg.CHECK_SIGNATURE), nb, block, *slots(X), p_at)
    bad = p_at[p_at >= 0]
    if not bad.shape[0]:
        return -1, -1
    i = int(bad[0])  # the blocks in row order: the first one's row is the first
    return i, int(np.flatnonzero(~np.isfinite(X[i]))[0])


# --------------------------------------------------------------------------- k-means
# --------------------------------------------------------------------------- missing data
_MISSING_FORMS = {"full": 0, "tied": 1, "diag": 2}


def _missing_cov(cov, form):
    cov = _f64(cov)
    return cov.reshape(cov.shape[0], 1, cov.shape[1]) if form == "diag" else cov


def gauss_missing_pass(X, w, plan, log_weights, means, cov, form, mode, seed, stream, labels,
                       block, center, row0=0):
    """``gauss_pass`` for data with NaN cells (``plan``: its ``_missing.MissingPlan``):
    the same returns.  ``form`` "full" (``cov`` (k, d, d) covariances), "tied" ((1, d, d))
    or "diag" ((k, d) variances)."""
    n, d = X.shape
    k = means.shape[0]
    full = form != "diag"
    ks = (1 if form == "tied" else k) if full else k
    seg, blk = plan.segments(block)
    nb = blk.shape[0] - 1
    p_nk = np.zeros((nb, k))
    p_s1 = np.zeros((nb, k, d))
    p_s2 = np.zeros((nb, ks, d, d) if full else (nb, k, 1, d))
    p_ll = np.zeros(nb)
    p_ch = np.zeros(nb, dtype=np.int64)
    XS, XD = slots(X)
    run_blocks(prepared(_kgm.missing_blocks, _kgm.MISSING_SIGNATURE), nb, XS, XD, w,
               plan.index.rows, seg, blk, plan.perm, plan.n_obs, _MISSING_FORMS[form],
               _f64(log_weights), _f64(means), _missing_cov(cov, form), _f64(center), int(mode),
               _seed(seed), int(stream), labels, p_nk, p_s1, p_s2, p_ll, p_ch, EMPTY_F64,
               _EMPTY_2D, EMPTY_I64, _EMPTY_2D, _EMPTY_2D, int(row0))
    return _pass_sums(p_nk, p_s1, p_s2, p_ll, p_ch, full)


def gauss_missing_rows(X, plan, log_weights, means, cov, form, out_ll, out_resp, out_labels,
                       out_imp=_EMPTY_2D, components=EMPTY_I32, noise=_EMPTY_2D):
    """Per-row outputs for data with NaN cells, each skipped when empty (see
    ``gauss_rows``); ``out_imp`` (n, d) float64, a copy of X: its NaN cells get their
    conditional expectation, or, with ``components`` (n,) int32 and standard normals
    ``noise`` (n, d), a draw from that component's conditional distribution."""
    seg, blk = plan.segments(ROWS_BLOCK)
    XS, XD = slots(X)
    run_blocks(prepared(_kgm.missing_blocks, _kgm.MISSING_SIGNATURE), blk.shape[0] - 1, XS, XD,
               EMPTY_F64, plan.index.rows, seg, blk, plan.perm, plan.n_obs,
               _MISSING_FORMS[form], _f64(log_weights), _f64(means), _missing_cov(cov, form),
               EMPTY_F64, ROWS, np.uint64(0), 0, components, np.zeros((0, 0)),
               np.zeros((0, 0, 0)), np.zeros((0, 0, 0, 0)), EMPTY_F64, EMPTY_I64, out_ll,
               out_resp, out_labels, out_imp, noise, 0)


def check_missing(X):
    """(row, column) of X's first infinity or (-1, -1), its first row with every cell
    NaN or -1, and how many rows have a NaN."""
    i, j, empty, n_nan = prepared(_kgm.check_missing, _kgm.CHECK_SIGNATURE)(*slots(X))
    return (int(i), int(j)), int(empty), int(n_nan)


def kmeanspp(X, rows, w, k, n_trials, uniforms):
    """Greedy k-means++ (Arthur & Vassilvitskii) over the rows ``rows`` of X.

    ``w`` (n,) weights or empty; ``uniforms`` holds 1 + (k - 1) * n_trials draws in
    [0, 1).  Returns the chosen row indices (k,) into X.  In NumPy: ``rows`` is a bounded
    sample, so this is a few vector operations per trial, not worth a compilation.
    """
    rows = np.asarray(rows, dtype=np.int64)
    m = rows.shape[0]
    Xs = X[rows].astype(np.float64)
    ws = w[rows] if w.shape[0] else np.ones(m)

    def pick(cum, total, u):  # the first index whose running weight exceeds u * total
        return min(int(np.searchsorted(cum, u * total, side="right")), m - 1)

    def sqdist(i):
        diff = Xs - Xs[i]
        return np.einsum("ij,ij->i", diff, diff)

    cum = np.cumsum(ws)
    first = pick(cum, cum[-1], uniforms[0])
    chosen = np.empty(k, dtype=np.int64)
    chosen[0] = rows[first]
    closest = sqdist(first)
    u_at = 1
    for c in range(1, k):
        cum = np.cumsum(ws * closest)
        total = cum[-1]
        best_pot, best_idx, best_d = np.inf, -1, closest
        for _ in range(n_trials):
            u = uniforms[u_at]
            u_at += 1
            # every row on a centre already: any row will do
            idx = pick(cum, total, u) if total > 0.0 else min(int(u * m), m - 1)
            cand = np.minimum(closest, sqdist(idx))
            p = float(ws @ cand)
            if best_idx < 0 or p < best_pot:  # the first trial always counts (p may be inf)
                best_pot, best_idx, best_d = p, idx, cand
        chosen[c] = rows[best_idx]
        closest = best_d
    return chosen


def lloyd_pass(X, w, centers, labels, block):
    """Assign rows to their nearest centre (``labels`` updated) and sum the new centres.

    Returns (counts (k,), sums (k, d), inertia, n_changed), blocks added in a fixed order.
    """
    X = np.ascontiguousarray(X)  # as the kernel's signature (a copy only if not already)
    n, d = X.shape
    k = centers.shape[0]
    nb = (n + block - 1) // block
    p_cnt, p_sum = np.zeros((nb, k)), np.zeros((nb, k, d))
    p_in, p_ch = np.zeros(nb), np.zeros(nb, dtype=np.int64)
    run_blocks(prepared(_kk.lloyd_blocks, _kk.LLOYD_SIGNATURE), nb, block, *slots(X), w,
               centers, labels, p_cnt, p_sum, p_in, p_ch)
    return (sum_blocks(p_cnt), sum_blocks(p_sum), float(sum_blocks(p_in)),
            int(sum_blocks(p_ch)))


def inertia(X, w, centers, labels, block):
    """Sum of w_i ||x_i - centers[labels_i]||^2 (float64 differences), blocks added in a
    fixed order."""
    X = np.ascontiguousarray(X)
    nb = (X.shape[0] + block - 1) // block
    p_in = np.zeros(nb)
    run_blocks(prepared(_kk.inertia_blocks, _kk.INERTIA_SIGNATURE), nb, block, *slots(X), w,
               centers, labels, p_in)
    return float(sum_blocks(p_in))


class LloydBounds:
    """What a bounded Lloyd run (``_kk.lloyd_bounded_blocks``) keeps from pass to pass:
    labels, per-row lower bounds on the distance to other centres (n,), and per-block
    counts, rows of positive
    weight and sums.  ``fresh``: the next pass rebuilds them all (the first pass, and after
    the driver changed the sums itself, as the relocation of an empty cluster does)."""

    bounded = True  # keeps the per-row lower bounds

    def __init__(self, n, k, d, block):
        nb = (n + block - 1) // block
        self.block = block
        self.labels = np.full(n, -1, dtype=np.int32)
        self.lower = np.zeros(n) if self.bounded else None
        self.p_cnt = np.zeros((nb, k))
        self.p_num = np.zeros((nb, k), dtype=np.int64)
        self.p_sum = np.zeros((nb, k, d))
        self.p_ch = np.zeros(nb, dtype=np.int64)
        self.p_set = np.zeros(nb, dtype=np.int64)
        self.fresh = True

    def _totals(self):
        """After a pass: (counts (k,), sums (k, d), n_changed), blocks added in a fixed
        order; the next pass keeps the sums."""
        self.fresh = False
        self.settled = int(self.p_set.sum())
        return sum_blocks(self.p_cnt), sum_blocks(self.p_sum), int(sum_blocks(self.p_ch))

    def step(self, X, w, centers, shift, half_sep):
        """One pass at ``centers``, which moved by ``shift`` (k,) since the last one;
        ``half_sep`` (k,): half the distance from each centre to the nearest other.
        Returns (counts (k,), sums (k, d), n_changed), blocks added in a fixed order."""
        nb = self.p_ch.shape[0]
        X = np.ascontiguousarray(X)  # as the kernel's signature (KMeans passes it so)
        run_blocks(prepared(_kk.lloyd_bounded_blocks, _kk.LLOYD_BOUNDED_SIGNATURE), nb,
                   self.block, *slots(X), w, centers, shift, half_sep, self.fresh,
                   self.labels, self.lower, self.p_cnt, self.p_num, self.p_sum,
                   self.p_ch, self.p_set)
        return self._totals()


class KMeansShadow:
    """The float32 transposed copy of X (d, n) and its row norm bounds (n,) that the
    shadow Lloyd passes score from (``_kk.lloyd_shadow_blocks``): made once per fit, 4 n d
    + 8 n bytes, in one parallel pass."""

    def __init__(self, X, block):
        X = np.ascontiguousarray(X)
        n, d = X.shape
        self.XT32 = np.empty((d, n), dtype=np.float32)
        self.rn = np.empty(n)
        nb = (n + block - 1) // block
        run_blocks(prepared(_kk.shadow_blocks, _kk.SHADOW_SIGNATURE), nb, block, *slots(X),
                   self.XT32, self.rn)


class LloydShadow(LloydBounds):
    """A Lloyd run on a ``KMeansShadow``: the state of ``LloydBounds`` without the
    bounds (every row is scored, in float32); ``step`` takes and ignores the centres'
    moves, and goes over the blocks forward and backward in turn (see the kernel)."""

    bounded = False

    def __init__(self, shadow, n, k, d, block):
        super().__init__(n, k, d, block)
        self.shadow = shadow
        self.backward = False

    def step(self, X, w, centers, shift=None, half_sep=None):
        X = np.ascontiguousarray(X)
        nb = self.p_ch.shape[0]
        run_blocks(prepared(_kk.lloyd_shadow_blocks, _kk.LLOYD_SHADOW_SIGNATURE), nb,
                   self.block, *slots(X), self.shadow.XT32, self.shadow.rn, w, centers,
                   self.fresh, self.backward, self.labels, self.p_cnt, self.p_num,
                   self.p_sum, self.p_ch, self.p_set)
        self.backward = not self.backward
        return self._totals()


def column_moments(X, w, block):
    """Weighted column means and variances (d,), two fixed-order passes."""
    n, d = X.shape
    nb = (n + block - 1) // block
    kernel = prepared(_kk.moment_blocks, _kk.MOMENT_SIGNATURE)
    XS, XD = slots(X)
    p, pw = np.zeros((nb, d)), np.zeros(nb)
    run_blocks(kernel, nb, block, XS, XD, w, EMPTY_F64, p, pw)
    tot = sum_blocks(pw)
    mean = sum_blocks(p) / tot
    q = np.zeros((nb, d))
    run_blocks(kernel, nb, block, XS, XD, w, mean, q, pw)
    return mean, sum_blocks(q) / tot


# --------------------------------------------------------------------------- binomial
def _binom_slots(X, T):
    XS, XD = slots(X)
    TS, TD = slots(T)
    return XS, XD, TS, TD


def log_pq(probs):
    """(log p, log(1 - p)) for a (k, d) array of probabilities (compiled, so that compiled
    callers of the public kernels get the same bits)."""
    return prepared(_kb.log_pq, _kb.LOG_PQ_SIGNATURE)(_f64(probs))


def binomial_mstep(nk, sx, st, weights, probs, eps, fit_weights):
    """The binomial M-step in place (see the kernel); returns the number of components that
    received no weight."""
    return prepared(_kb.binomial_mstep, _kb.MSTEP_SIGNATURE)(nk, sx, st, weights, probs,
                                                             float(eps), bool(fit_weights))


_BTABLES = {}  # (kind, weights piece) -> table of pieces of a binomial kernel


def binomial_kernel(kind, mode=None, missing=False):
    """(compiled kernel, its table of pieces): kind "pass" (for a mode; None: any mode),
    "rows" or "coef"; ``missing``: for counts with NaN cells (missing values)."""
    missing = bool(missing)
    key = (kind, _kg.weights_piece(mode) if kind == "pass" else "", missing)
    fns = _BTABLES.get(key)
    if fns is None:
        pieces = {"pass": lambda: _kb.pass_pieces(mode, missing),
                  "rows": lambda: _kb.rows_pieces(missing),
                  "coef": lambda: _kb.coef_pieces(missing)}[kind]()
        fns = _BTABLES[key] = table(pieces)
    kern, sig = {"pass": (_kb.binomial_blocks, _kb.PASS_SIGNATURE),
                 "rows": (_kb.binomial_rows_blocks, _kb.PASS_SIGNATURE),
                 "coef": (_kb.coef_blocks, _kb.COEF_SIGNATURE)}[kind]
    return prepared(kern, sig), fns


def binomial_table(code):
    """The table of pieces of binomial kernel ``code`` (0 pass for any mode, 1 rows, 2
    coef), for compiled callers (see ``gauss_table``)."""
    return binomial_kernel(("pass", "rows", "coef")[code])[1]


def binomial_pass(X, T, w, log_weights, probs, mode, seed, stream, labels, block, row0=0,
                  missing=False):
    """One EM pass; returns ``(nk (k,), sum_x (k, d), sum_t (k, d), loglik, n_changed)``
    (the log-likelihood without the binomial coefficients; ``missing``: X has NaN cells,
    left out of the likelihood and of the statistics)."""
    n, d = X.shape
    k = probs.shape[0]
    lp, lq = log_pq(probs)
    nb = (n + block - 1) // block
    p_nk, p_sx, p_sf = np.zeros((nb, k)), np.zeros((nb, k, d)), np.zeros((nb, k, d))
    p_ll, p_ch = np.zeros(nb), np.zeros(nb, dtype=np.int64)
    kern, fns = binomial_kernel("pass", int(mode), missing)
    run_blocks(kern, nb, block, *_binom_slots(X, T), w, log_weights, lp, lq, False, int(mode),
               _seed(seed), int(stream), labels, p_nk, p_sx, p_sf, p_ll, p_ch, EMPTY_F64,
               _EMPTY_2D, EMPTY_I64, _EMPTY_2D, fns, int(row0))
    sx = sum_blocks(p_sx)
    return (sum_blocks(p_nk), sx, sx + sum_blocks(p_sf), float(sum_blocks(p_ll)),
            int(sum_blocks(p_ch)))


def binomial_rows(X, T, log_weights, probs, with_coef, out_ll, out_resp, out_labels, out_logd,
                  missing=False):
    """Per-row outputs at fixed parameters (see the kernel); each skipped when empty."""
    n = X.shape[0]
    lp, lq = log_pq(probs)
    nb = (n + ROWS_BLOCK - 1) // ROWS_BLOCK
    kern, fns = binomial_kernel("rows", None, missing)
    run_blocks(kern, nb, ROWS_BLOCK, *_binom_slots(X, T), EMPTY_F64, log_weights, lp, lq,
               bool(with_coef), ROWS, np.uint64(0), 0, EMPTY_I32, _EMPTY_2D, np.zeros((0, 0, 0)),
               np.zeros((0, 0, 0)), EMPTY_F64, EMPTY_I64, out_ll, out_resp, out_labels, out_logd,
               fns, 0)


_SLICE = 1 << 16  # rows per slice of the NumPy checks below (bounded temporaries)


def _row_slices(n):
    return ((lo, min(n, lo + _SLICE)) for lo in range(0, n, _SLICE))


def _trials_slice(T, lo, hi, shape):
    return np.broadcast_to(T[lo:hi] if T.shape[0] > 1 else T, shape)


def binomial_log_coef_sum(X, T, w, block, missing=False):
    """``sum_i w_i sum_j log C(t_ij, x_ij)`` with a fixed-order block reduction (compiled:
    it uses the same ``lgamma`` as the per-row outputs, and SciPy's would cost a quarter
    of a second of import in every process)."""
    n = X.shape[0]
    nb = (n + block - 1) // block
    part = np.zeros(nb)
    kern, fns = binomial_kernel("coef", None, missing)
    run_blocks(kern, nb, block, *_binom_slots(X, T), w, part, fns)
    return float(sum_blocks(part))


def check_counts(X, T, allow_nan=False):
    """First problem in counts X against trials T as (code, row, col); code 0 = none.

    Codes: 1 X not finite, 2 X negative, 3 X not an integer, 4 T not finite, 5 T below 1,
    6 T not an integer, 7 X above T, 8 T above 2**53 (beyond exact integers).  The first
    cell in row-major order with any problem is reported, with its first code.
    ``allow_nan``: NaN in X is a missing value, not a problem (infinity still is; the
    trials of a missing cell are still checked).
    """
    n = X.shape[0]
    for lo, hi in _row_slices(n):
        x = X[lo:hi]
        t = _trials_slice(T, lo, hi, x.shape)
        with np.errstate(invalid="ignore"):
            bad_x = np.isinf(x) if allow_nan else ~np.isfinite(x)
            if allow_nan:
                x = np.where(np.isnan(x), 0.0, x)
            tests = (bad_x, x < 0, x != np.floor(x), ~np.isfinite(t), t < 1,
                     t != np.floor(t), x > t, t > _MAX_TRIALS)
        bad = np.logical_or.reduce(tests)
        if bad.any():
            i, j = np.unravel_index(int(np.argmax(bad)), bad.shape)
            code = next(c for c, test in enumerate(tests, 1) if test[i, j])
            return code, lo + int(i), int(j)
    return 0, -1, -1


def row_code_weights(X, T, w, x_radix, t_radix, n_codes):
    """Sum of row weights per distinct row, rows encoded in mixed radix.

    A row's code is built from its counts (radix ``x_radix[j]`` = max count + 1) and, when
    trials vary by row (``T`` has n rows), its trials (radix ``t_radix[j]``).  Returns a
    float64 table of length ``n_codes`` (weight per code; weight-0 rows add nothing).
    """
    n, d = X.shape
    table = np.zeros(n_codes)
    for lo, hi in _row_slices(n):
        code = np.zeros(hi - lo, dtype=np.int64)
        for j in range(d):
            code = code * x_radix[j] + X[lo:hi, j].astype(np.int64)
        if T.shape[0] > 1:
            for j in range(T.shape[1]):
                code = code * t_radix[j] + T[lo:hi, j].astype(np.int64)
        weights = w[lo:hi] if w.shape[0] else None
        table += np.bincount(code, weights=weights, minlength=n_codes)
    return table


# --------------------------------------------------------------------------- compiled code
# The same passes for code compiled by Numba (the public kernels inside a user's @njit
# function): every block on the calling thread, partials added in the same order, so the
# results are the same bits as from Python.  The precision form must be known while
# typing: ``full`` and ``tied`` are then constants (Literal[bool]).


def _literal(flag, name):
    if isinstance(flag, _t.BooleanLiteral):
        return flag.literal_value
    if isinstance(flag, (bool, np.bool_)):
        return bool(flag)
    raise _TypingError(f"{name} must be a constant (True or False) in compiled code")


def _slot_makers(X):
    """Compiled (XS, XD) builders for an X of this Numba type."""
    if X.dtype == _t.float64:
        @_jitable
        def make(X):
            return np.empty((0, X.shape[1]), dtype=np.float32), X
    else:
        @_jitable
        def make(X):
            return X, np.empty((0, X.shape[1]))
    return make


@_jitable
def _mirror(s2):
    for c in range(s2.shape[0]):
        for j in range(s2.shape[1]):
            for l in range(j + 1, s2.shape[2]):
                s2[c, l, j] = s2[c, j, l]
    return s2


@_overload(gauss_pass)
def _gauss_pass_c(X, w, log_weights, means, prec, log_det, full, mode, seed, stream, labels,
                  block, tied, center, row0=0):
    full_v, tied_v = _literal(full, "full"), _literal(tied, "tied")
    code = (1 if tied_v else 0) if full_v else 2
    kern = gauss_kernel(("full", "tied", "diag")[code])[0]
    make = _slot_makers(X)

    def impl(X, w, log_weights, means, prec, log_det, full, mode, seed, stream, labels, block,
             tied, center, row0=0):
        n, d = X.shape
        k = means.shape[0]
        ks = (1 if tied_v else k) if full_v else k
        nb = (n + block - 1) // block
        p_nk = np.zeros((nb, k))
        p_s1 = np.zeros((nb, k, d))
        p_s2 = np.zeros((nb, ks, d, d) if full_v else (nb, k, 1, d))
        p_ll = np.zeros(nb)
        p_ch = np.zeros(nb, dtype=np.int64)
        XS, XD = make(X)
        with numba.objmode(fns="int64[::1]"):
            fns = gauss_table(code)
        kern(0, nb, block, XS, XD, w, log_weights, means, prec, log_det, center, mode,
             np.uint64(seed), stream, labels, p_nk, p_s1, p_s2, p_ll, p_ch, np.empty(0),
             np.empty((0, 0)), np.empty(0, dtype=np.int64), np.empty((0, 0)), fns,
             np.int64(row0))
        nk = _sum_c(p_nk)
        s1 = _sum_c(p_s1)
        s2 = _sum_c(p_s2)
        if full_v:
            return nk, s1, _mirror(s2), np.zeros((0, d)), _sum_c(p_ll)[()], _sum_c(p_ch)[()]
        return (nk, s1, np.zeros((0, d, d)), s2.reshape((k, d)), _sum_c(p_ll)[()],
                _sum_c(p_ch)[()])

    return impl


@_overload(gauss_rows)
def _gauss_rows_c(X, log_weights, means, prec, log_det, full, out_ll, out_resp, out_labels,
                  out_logd):
    full_v = _literal(full, "full")
    kern = gauss_kernel("full_rows" if full_v else "diag_rows")[0]
    make = _slot_makers(X)

    def impl(X, log_weights, means, prec, log_det, full, out_ll, out_resp, out_labels,
             out_logd):
        n = X.shape[0]
        nb = (n + ROWS_BLOCK - 1) // ROWS_BLOCK
        XS, XD = make(X)
        p0, p1, p2 = np.empty((0, 0)), np.empty((0, 0, 0)), np.empty((0, 0, 0, 0))
        w0, no_lab, no_ch = np.empty(0), np.empty(0, dtype=np.int32), np.empty(0, dtype=np.int64)
        # a full form with one factor for k > 1 components is the shared (tied) factor
        code = (1 if prec.shape[0] != means.shape[0] else 0) if full_v else 2
        with numba.objmode(fns="int64[::1]"):
            fns = gauss_table(code + 3)
        kern(0, nb, ROWS_BLOCK, XS, XD, w0, log_weights, means, prec, log_det, w0, ROWS,
             np.uint64(0), 0, no_lab, p0, p1, p2, w0, no_ch, out_ll, out_resp, out_labels,
             out_logd, fns, 0)

    return impl


@_overload(binomial_pass)
def _binomial_pass_c(X, T, w, log_weights, probs, mode, seed, stream, labels, block, row0=0):
    kern = binomial_kernel("pass")[0]
    make = _slot_makers(X)

    def impl(X, T, w, log_weights, probs, mode, seed, stream, labels, block, row0=0):
        n, d = X.shape
        k = probs.shape[0]
        lp, lq = _kb.log_pq(np.ascontiguousarray(probs).astype(np.float64))
        nb = (n + block - 1) // block
        p_nk = np.zeros((nb, k))
        p_sx = np.zeros((nb, k, d))
        p_sf = np.zeros((nb, k, d))
        p_ll = np.zeros(nb)
        p_ch = np.zeros(nb, dtype=np.int64)
        XS, XD = make(X)
        TS, TD = make(T)
        with numba.objmode(fns="int64[::1]"):
            fns = binomial_table(0)
        kern(0, nb, block, XS, XD, TS, TD, w, log_weights, lp, lq, False, mode,
             np.uint64(seed), stream, labels, p_nk, p_sx, p_sf, p_ll, p_ch, np.empty(0),
             np.empty((0, 0)), np.empty(0, dtype=np.int64), np.empty((0, 0)), fns,
             np.int64(row0))
        sx = _sum_c(p_sx)
        return _sum_c(p_nk), sx, sx + _sum_c(p_sf), _sum_c(p_ll)[()], _sum_c(p_ch)[()]

    return impl


@_overload(binomial_rows)
def _binomial_rows_c(X, T, log_weights, probs, with_coef, out_ll, out_resp, out_labels,
                     out_logd):
    kern = binomial_kernel("rows")[0]
    make = _slot_makers(X)

    def impl(X, T, log_weights, probs, with_coef, out_ll, out_resp, out_labels, out_logd):
        n = X.shape[0]
        lp, lq = _kb.log_pq(np.ascontiguousarray(probs).astype(np.float64))
        nb = (n + ROWS_BLOCK - 1) // ROWS_BLOCK
        XS, XD = make(X)
        TS, TD = make(T)
        with numba.objmode(fns="int64[::1]"):
            fns = binomial_table(1)
        kern(0, nb, ROWS_BLOCK, XS, XD, TS, TD, np.empty(0), log_weights, lp, lq,
             with_coef != False, ROWS, np.uint64(0), 0, np.empty(0, dtype=np.int32),  # noqa: E712
             np.empty((0, 0)), np.empty((0, 0, 0)), np.empty((0, 0, 0)), np.empty(0),
             np.empty(0, dtype=np.int64), out_ll, out_resp, out_labels, out_logd, fns, 0)

    return impl


@_overload(binomial_log_coef_sum)
def _binomial_coef_c(X, T, w, block):
    kern = binomial_kernel("coef")[0]
    make = _slot_makers(X)

    def impl(X, T, w, block):
        nb = (X.shape[0] + block - 1) // block
        part = np.zeros(nb)
        XS, XD = make(X)
        TS, TD = make(T)
        with numba.objmode(fns="int64[::1]"):
            fns = binomial_table(2)
        kern(0, nb, block, XS, XD, TS, TD, w, part, fns)
        return _sum_c(part)[()]

    return impl
