"""Data larger than memory (issue 12): a memory-mapped file read in chunks against the same
data in memory, and partial_fit's throughput beside a full-batch iteration.  Both
figures of each ratio are measured in the same call, alternating, best of each."""

import os
import shutil
import tempfile
import time
import warnings

import numpy as np

from . import common as C

N_ROWS = 1_000_000
N_FEATURES = 8
N_COMPONENTS = 8
BATCH = 2_000


def _data():
    rng = np.random.default_rng(0)
    n = C.rows(N_ROWS)
    centres = rng.uniform(-20, 20, (N_COMPONENTS, N_FEATURES))
    X = centres[rng.integers(0, N_COMPONENTS, n)] + rng.normal(size=(n, N_FEATURES))
    return X


def _per_iteration(make, X, repeat=3, m=5):
    """(fit with m iterations - fit with 1) / (m - 1), best of ``repeat`` each."""
    lo, hi = np.inf, np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        make(1).fit(X)
        t1 = time.perf_counter()
        make(m).fit(X)
        t2 = time.perf_counter()
        lo, hi = min(lo, t1 - t0), min(hi, t2 - t1)
    return (hi - lo) / (m - 1)


class MemmapRatio:
    """THE figure for files: per-iteration time of a fit on a memory-mapped .npy read in
    chunks (the file in the page cache) over the same fit on the array in memory, same
    start (means_init), soft EM, 1e6 x 8 rows, 8 components.  Bar: 1.4."""

    params = [["full", "diag"]]
    param_names = ["covariance_type"]
    unit = "ratio"
    rounds = 1
    timeout = 900

    def setup(self, covariance_type):
        C.require("fastem")
        self.X = _data()
        self.dir = tempfile.mkdtemp(prefix="fastem-asv-")
        path = os.path.join(self.dir, "X.npy")
        np.save(path, self.X)
        self.M = np.load(path, mmap_mode="r")
        self.means = self.X[:: max(1, self.X.shape[0] // N_COMPONENTS)][:N_COMPONENTS].copy()
        for X in (self.M, self.X):  # compile, and bring the file into the page cache
            self._make(covariance_type, 2).fit(X)

    def teardown(self, covariance_type):
        shutil.rmtree(self.dir, ignore_errors=True)

    def _make(self, covariance_type, max_iter):
        warnings.simplefilter("ignore")
        # chunks of 8 MiB: 131,072 rows, so the file is read in 8 chunks per pass
        return C.fastem.GaussianMixture(N_COMPONENTS, covariance_type=covariance_type,
                                        max_iter=max_iter, tol=0, means_init=self.means,
                                        chunk_bytes=8 << 20)

    def track_time_ratio_memmap_over_memory(self, covariance_type):
        make = lambda m: self._make(covariance_type, m)  # noqa: E731
        mm = _per_iteration(make, self.M)
        mem = _per_iteration(make, self.X)
        return mm / mem


class PartialFitThroughput:
    """Rows per second of ``partial_fit`` on batches of 2,000 rows, and the same over the
    rows per second of one full-batch EM iteration (below 1: the online path is slower
    per row; the price of small batches)."""

    params = [["full", "diag"]]
    param_names = ["covariance_type"]
    rounds = 1
    timeout = 900

    def setup(self, covariance_type):
        C.require("fastem")
        self.X = _data()
        warnings.simplefilter("ignore")
        self.model = C.fastem.GaussianMixture(N_COMPONENTS, covariance_type=covariance_type,
                                              random_state=0).partial_fit(self.X[:BATCH])
        self.model.partial_fit(self.X[BATCH:2 * BATCH])  # the update path, warm

    def _online_rate(self):
        n = min(self.X.shape[0], 200 * BATCH)
        t0 = time.perf_counter()
        for a in range(0, n, BATCH):
            self.model.partial_fit(self.X[a:a + BATCH])
        return n / (time.perf_counter() - t0)

    def track_partial_fit_rows_per_second(self, covariance_type):
        return self._online_rate()

    track_partial_fit_rows_per_second.unit = "rows/s"

    def track_partial_fit_over_full_batch_rows_per_second(self, covariance_type):
        means = self.model.means_.copy()

        def make(m):
            return C.fastem.GaussianMixture(N_COMPONENTS, covariance_type=covariance_type,
                                            max_iter=m, tol=0, means_init=means)

        batch_rate = self.X.shape[0] / _per_iteration(make, self.X)
        return self._online_rate() / batch_rate

    track_partial_fit_over_full_batch_rows_per_second.unit = "ratio"
