"""Dask (issue 12): a fit on a dask array persisted on a 2-process ``LocalCluster``
against the same fit on the same data in memory.  Both figures of the ratio are measured
in the same call, alternating, best of each.

Not named ``dask.py``: that would shadow the dask package inside this package.
"""

import time

import numpy as np

from . import common as C

N_ROWS = 10_000_000
N_FEATURES = 8
N_COMPONENTS = 8
#: Rows per block: 1e6 x 8 float64 = 64 MB (1e4 rows in the small profile, so that there
#: are 10 blocks in both profiles and both workers have work).
CHUNK_ROWS = 1_000_000
N_WORKERS = 2


def _require_dask():
    """NotImplementedError (asv: skip) when dask.array or distributed is missing."""
    try:
        import dask.array  # noqa: F401
        import distributed  # noqa: F401
    except ImportError as exc:
        raise NotImplementedError(f"dask/distributed not installed: {exc}") from None


def _dask_data(n, chunk):
    """A lazy (n, 8) float64 dask array, one chunk along the features, generated block by
    block on the workers (dask's own seeded generator, so no code of this file travels to
    the workers): 8 centres uniform in [-20, 20]^8 (as ``outofcore._data``), each row one
    centre plus standard normal noise."""
    import dask.array as da

    centres = np.random.default_rng(0).uniform(-20, 20, (N_COMPONENTS, N_FEATURES))
    rng = da.random.default_rng(0)
    labels = rng.integers(0, N_COMPONENTS, size=n, chunks=chunk)
    noise = rng.normal(size=(n, N_FEATURES), chunks=(chunk, N_FEATURES))
    return noise + da.from_array(centres, chunks=-1)[labels]


def _per_iteration_pair(make, Xa, Xb, repeat=3, m=5):
    """Per-iteration time on ``Xa`` and on ``Xb``: (fit with m iterations - fit with 1) /
    (m - 1), each fit the best of ``repeat``; the four fits alternate within a repeat so
    that a slow spell of the machine touches both figures."""
    best = {}
    for _ in range(repeat):
        for name, X in (("a", Xa), ("b", Xb)):
            for it in (1, m):
                t0 = time.perf_counter()
                C.quiet_fit(make(it), X)
                t = time.perf_counter() - t0
                best[name, it] = min(best.get((name, it), np.inf), t)
    return tuple((best[x, m] - best[x, 1]) / (m - 1) for x in ("a", "b"))


class DaskRatio:
    """THE figure for Dask: per-iteration time of a fit on a dask array persisted on a
    ``LocalCluster`` of 2 worker processes with 1 thread each (one block task per worker
    thread, 1e6-row blocks) over the same fit on the same data as a NumPy array in the
    benchmark process (fastem's own threads, all cores), same start (weights, means, precisions), soft EM,
    1e7 x 8 rows, 8 components, tol=0.  Bar: 1.5 for full covariances."""

    params = [["full", "diag"]]
    param_names = ["covariance_type"]
    unit = "ratio"
    rounds = 1
    timeout = 1800

    def setup(self, covariance_type):
        C.require("fastem")
        _require_dask()
        import distributed

        self.cluster = self.client = None
        self.cluster = distributed.LocalCluster(n_workers=N_WORKERS, threads_per_worker=1,
                                                processes=True, dashboard_address=None)
        try:
            self.client = distributed.Client(self.cluster)  # the default scheduler now
            X = self.client.persist(_dask_data(C.rows(N_ROWS), C.rows(CHUNK_ROWS)))
            distributed.wait(X)
            self.D = X
            self.X = X.compute()  # the in-memory twin, fetched from the workers once
            self.means = self.X[:: self.X.shape[0] // N_COMPONENTS][:N_COMPONENTS].copy()
            for data in (self.D, self.X):  # compile; load the kernels in every worker
                C.quiet_fit(self._make(covariance_type, 2), data)
        except BaseException:  # asv runs no teardown after a failed setup
            self.teardown(covariance_type)
            raise

    def teardown(self, covariance_type):
        if getattr(self, "client", None) is not None:
            self.client.close()
        if getattr(self, "cluster", None) is not None:
            self.cluster.close()

    def _make(self, covariance_type, max_iter):
        # The whole start given: no k-means init, whose Lloyd passes on the cluster (each
        # a persist and a compute) would add noise to the difference of the two fits.
        k, d = N_COMPONENTS, N_FEATURES
        precisions = {"full": np.repeat(np.eye(d)[None], k, axis=0), "diag": np.ones((k, d))}
        return C.fastem.GaussianMixture(k, covariance_type=covariance_type, max_iter=max_iter,
                                        tol=0, means_init=self.means,
                                        weights_init=np.full(k, 1.0 / k),
                                        precisions_init=precisions[covariance_type])

    def track_time_ratio_dask_over_memory(self, covariance_type):
        make = lambda m: self._make(covariance_type, m)  # noqa: E731
        on_dask, in_memory = _per_iteration_pair(make, self.D, self.X)
        return on_dask / in_memory
