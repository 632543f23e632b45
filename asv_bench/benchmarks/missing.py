"""Missing values (issue 13): fastem.GaussianMixture on data with NaN cells against the
same fit on the same data complete.

The rows of X are grouped by their pattern of missing cells and a compiled kernel does
the E-step by marginalising the missing cells out; data without NaN run today's kernels
(``gaussian.py`` shows they did not slow down, and ``MissingFit``'s ``complete`` figures
are the same fit).  Cells go missing uniformly at random, independently, with
probability ``fraction``; a row left with no observed cell gets one cell (a random
column) back, since a fit refuses rows with every cell missing.  The data are the blobs
of ``common.gaussian_blobs``; the missing copy is made once per process (cached).

Every fit starts from the true generating parameters (``weights_init``, ``means_init``,
``precisions_init``, ``common.gaussian_init``) with ``tol=0``: fits on the missing and on
the complete data do the same number of iterations from the same start.  Per-iteration
time is (fit with 5 iterations - fit with 1) / 4, so the fixed per-fit costs (input
checks, the pattern index, the initialisation's filled sample) are not in the ratios;
``MissingFit.time_fit_one_iteration`` shows them.

Small profile (``FASTEM_BENCH_PROFILE=small``): 1e4 rows instead of 1e6.
"""

import functools
import os
import subprocess
import sys

import numpy as np

from . import common as C
from .distributed_fit import _per_iteration_pair

#: (n_samples, n_features, n_components) and the fraction of cells missing of the main
#: case, and of the worst case (many distinct patterns of missing cells).
SHAPE = (1_000_000, 8, 8)
FRACTION = 0.10
WORST_SHAPE = (1_000_000, 16, 8)
WORST_FRACTION = 0.20
#: Issue 13's bar for ``MissingRatio``: a missing-data iteration costs <= 3x a complete one.
BAR = 3.0
COVARIANCE_TYPES = ["full", "diag"]
DATA = ["complete", "missing"]
#: EM iterations of the fixed-work fits (``common.n_iterations``).
M = 5
#: Rows generated per block when punching the holes (no n x d temporary).
_BLOCK = 65536


@functools.lru_cache(maxsize=2)
def missing_data(n, d, k, fraction, seed=0):
    """``(X, Xm)``: the blobs X (``common.gaussian_blobs(n, d, k)``, float64) and a copy
    Xm with each cell NaN independently with probability ``fraction``, except that a row
    left with no observed cell keeps one (a random column).  Both read-only; cached.

    The holes are drawn block by block into the copy, so the peak memory is the two
    arrays plus a few MB."""
    X, _ = C.gaussian_blobs(n, d, k)
    Xm = np.array(X)  # writable copy
    rng = np.random.default_rng([seed, n, d, k, int(round(fraction * 1e6))])
    for start in range(0, n, _BLOCK):
        stop = min(n, start + _BLOCK)
        holes = rng.random((stop - start, d)) < fraction
        empty = np.flatnonzero(holes.all(axis=1))
        if empty.size:
            holes[empty, rng.integers(0, d, size=empty.size)] = False
        Xm[start:stop][holes] = np.nan
    Xm.setflags(write=False)
    return X, Xm


def n_patterns(Xm):
    """How many distinct patterns of missing cells the rows of ``Xm`` have (NumPy only:
    the masks packed to bits block by block, then the distinct byte strings)."""
    n, d = Xm.shape
    width = (d + 7) // 8
    packed = np.empty((n, width), dtype=np.uint8)
    for start in range(0, n, _BLOCK):
        stop = min(n, start + _BLOCK)
        packed[start:stop] = np.packbits(np.isnan(Xm[start:stop]), axis=1)
    keys = packed.view(np.dtype((np.void, width))).ravel()
    return int(np.unique(keys).shape[0])


def _sizes(shape):
    n, d, k = shape
    return C.rows(n), d, k


def _warm(X, Xm, k, covariance_type):
    """Compile (or load) the complete-data and the missing-data kernels, and run each fit
    path once on a slice, so that no timing includes compilation."""
    C.warm_gaussian("fastem", X, k, covariance_type)
    est = C.gaussian_estimator("fastem", X.shape[1], k, covariance_type, max_iter=2)
    C.quiet_fit(est, Xm[: max(4 * k, 2000)])


def _missing_over_complete(X, Xm, k, covariance_type):
    """Per-iteration time of the fit on ``Xm`` over that on ``X`` (same start, tol=0),
    both from ``_per_iteration_pair``: alternating, best of 3 each."""
    d = X.shape[1]

    def make(m):
        return C.gaussian_estimator("fastem", d, k, covariance_type, max_iter=m)

    on_missing, on_complete = _per_iteration_pair(make, Xm, X, m=M)
    return on_missing / on_complete


# ----------------------------------------------------------------------------- ratios
class MissingRatio:
    """THE figure for missing values: per-iteration time of a fit on data with 10% of the
    cells missing at random over the same fit on the same data complete, (1e6, 8, 8)
    float64, soft EM, same start (the true parameters), tol=0; both figures measured in
    the same call, alternating, best of 3 each ((fit 5 - fit 1) / 4, see
    ``distributed_fit._per_iteration_pair``).  Bar: 3.0 (issue 13).  The data have 231
    distinct patterns of missing cells (of the 255 possible; 43% of the rows complete;
    small profile: 131)."""

    params = [COVARIANCE_TYPES]
    param_names = ["covariance_type"]
    unit = "ratio"
    rounds = 1
    timeout = 1200
    shape, fraction = SHAPE, FRACTION

    def setup(self, covariance_type):
        C.require("fastem")
        n, d, self.k = _sizes(self.shape)
        self.X, self.Xm = missing_data(n, d, self.k, self.fraction)
        _warm(self.X, self.Xm, self.k, covariance_type)

    def track_time_ratio_missing_over_complete(self, covariance_type):
        return _missing_over_complete(self.X, self.Xm, self.k, covariance_type)


class MissingWorstCaseRatio(MissingRatio):
    """The worst case for missing values, many distinct patterns: the ratio of
    ``MissingRatio`` at (1e6, 16, 8) with 20% of the cells missing at random.  The
    factorisations are done per (pattern, component), so their cost grows with the number
    of patterns.  Measured: 30,130 distinct patterns of missing cells at 1e6 rows
    (``track_n_patterns``), 33 rows each on average (with 16 features there cannot be
    more than 2^16 - 1 = 65,535 patterns, so not one per row; the complete pattern alone
    holds 2.8% of the rows); the small profile's 1e4 rows have 3,731, 2.7 rows each, the
    nearer to one pattern per row.  No bar: reported."""

    timeout = 1800
    shape, fraction = WORST_SHAPE, WORST_FRACTION

    def track_n_patterns(self, covariance_type):
        return n_patterns(self.Xm)

    track_n_patterns.unit = "patterns"


# ----------------------------------------------------------------------------- fit
class MissingFit:
    """Soft EM, fixed work, at (1e6, 8, 8) float64 with 10% of the cells missing
    (``missing``) or the same data complete (``complete``); same start (the true
    parameters), tol=0.  ``setup`` builds both arrays whatever ``data`` is, so both
    have the same process baseline.

    ``time_fit_iterations``: a fit of 5 iterations (per-iteration cost ~= time / 5, plus
    the fixed per-fit costs).  ``time_fit_one_iteration``: a fit of 1 iteration, mostly
    the fixed costs (for ``missing``: the NaN checks, the pattern index, the filled sample
    of the initialisation).  ``peakmem_fit_iterations``: peak resident memory of the
    process (interpreter, imports, both arrays, the fit) of a 1-iteration fit: the
    difference between ``missing`` and ``complete`` is what the missing-data path adds
    (the pattern index holds int64 arrays of n, nothing of n x d).  The fit's own peak,
    measured apart from the baseline, is ``MissingFitMemory``.
    """

    params = [COVARIANCE_TYPES, DATA]
    param_names = ["covariance_type", "data"]
    number = 1
    repeat = (1, 3, 10.0)
    min_run_count = 1
    rounds = 1
    warmup_time = 0.0
    timeout = 900

    def setup(self, covariance_type, data):
        C.require("fastem")
        n, d, k = _sizes(SHAPE)
        X, Xm = missing_data(n, d, k, FRACTION)
        _warm(X, Xm, k, covariance_type)
        self.X = Xm if data == "missing" else X
        self.est = C.gaussian_estimator("fastem", d, k, covariance_type, max_iter=M)
        self.est1 = C.gaussian_estimator("fastem", d, k, covariance_type, max_iter=1)

    def time_fit_iterations(self, covariance_type, data):
        C.quiet_fit(self.est, self.X)

    def time_fit_one_iteration(self, covariance_type, data):
        C.quiet_fit(self.est1, self.X)

    def peakmem_fit_iterations(self, covariance_type, data):
        C.quiet_fit(self.est1, self.X)


_FIT_MEMORY_CODE = """
import sys, warnings
sys.path.insert(0, {bench_root!r})
warnings.simplefilter("ignore")
from benchmarks import common as C
from benchmarks import missing as B
n, d, k = B._sizes(B.SHAPE)
X, Xm = B.missing_data(n, d, k, B.FRACTION)
B._warm(X, Xm, k, {covariance_type!r})
data = Xm if {data!r} == "missing" else X
est = C.gaussian_estimator("fastem", d, k, {covariance_type!r}, max_iter=2)

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024

open("/proc/self/clear_refs", "w").write("5")  # peak RSS := current RSS
before = status("VmRSS")
C.quiet_fit(est, data)
print(status("VmHWM") - before, data.nbytes)
"""


def fit_peak_extra_bytes(covariance_type, data):
    """(peak bytes a 2-iteration fit adds to the process, bytes of X), in a fresh process
    (as ``gaussian.fit_peak_extra_bytes``: warm up, reset the peak counter with
    ``/proc/self/clear_refs``, fit, read ``VmHWM - VmRSS_before``).  Linux only."""
    if not os.path.exists("/proc/self/clear_refs"):
        raise NotImplementedError("needs Linux /proc/self/clear_refs")
    bench_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = _FIT_MEMORY_CODE.format(bench_root=bench_root, covariance_type=covariance_type,
                                   data=data)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    extra, nbytes = out.stdout.split()[-2:]
    return int(extra), int(nbytes)


class MissingFitMemory:
    """Peak memory a fit (2 soft-EM iterations from the true parameters) adds beyond what
    the process held before it (X included there), on the data of ``MissingFit`` with
    10% missing or complete, in a fresh process (``fit_peak_extra_bytes``).

    ``track_extra_mib``: the fit's own peak in MiB.  ``track_extra_over_data``: that over
    X.nbytes (64 MB at 1e6 x 8): well below 1 means no n x d copy of X is made (the
    pattern index: int64 arrays of n, 1/8 of X each at d = 8; the initialisation's
    filled sample: at most 1e5 rows).  Measured at 1e6 x 8: ~51 MiB (0.83 of X) with
    missing cells, full or diag, of which ~31 MiB are the pattern index's transient
    int64 arrays of n while it sorts the rows (7.6 MiB kept: ``rows``) and 6 MiB the
    filled sample; ~2 MiB complete.
    """

    params = [COVARIANCE_TYPES, DATA]
    param_names = ["covariance_type", "data"]
    number = 1
    repeat = 1
    rounds = 1
    timeout = 900

    def setup(self, covariance_type, data):
        C.require("fastem")
        self.extra, self.nbytes = fit_peak_extra_bytes(covariance_type, data)

    def track_extra_mib(self, covariance_type, data):
        return self.extra / 2**20

    track_extra_mib.unit = "MiB"

    def track_extra_over_data(self, covariance_type, data):
        return self.extra / self.nbytes

    track_extra_over_data.unit = "ratio"


# ----------------------------------------------------------------------------- impute
class MissingImpute:
    """``impute(Xm)`` on the (1e6, 8) data with 10% of the cells missing, with a model
    fitted (1 iteration from the true parameters, 8 components) on the first rows of the
    complete data in ``setup``: ``mean`` (conditional expectations) and ``sample`` (a
    draw from the conditional distribution).  Includes the pattern index, built per
    call."""

    params = [COVARIANCE_TYPES, ["mean", "sample"]]
    param_names = ["covariance_type", "method"]
    number = 1
    repeat = (1, 5, 4.0)
    min_run_count = 1
    rounds = 1
    warmup_time = 0.0
    timeout = 600

    def setup(self, covariance_type, method):
        C.require("fastem")
        n, d, k = _sizes(SHAPE)
        X, self.Xm = missing_data(n, d, k, FRACTION)
        _warm(X, self.Xm, k, covariance_type)
        est = C.gaussian_estimator("fastem", d, k, covariance_type, max_iter=1)
        self.est = C.quiet_fit(est, X[: max(20 * k, 20_000)])
        self.est.impute(self.Xm[:2000], method=method, random_state=0)  # warm

    def time_impute(self, covariance_type, method):
        self.est.impute(self.Xm, method=method, random_state=0)
