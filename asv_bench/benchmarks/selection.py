"""Model selection (issue 14): the default ``fastem.GaussianMixtureSelection`` (1 to 9
components x the four covariance types, BIC, k-means initialisation, one restart each)
beside the loop a scikit-learn user writes for the same table (one
``sklearn.mixture.GaussianMixture(k, covariance_type=ct, random_state=0).fit(X)`` and its
``bic(X)`` per candidate), on (1e5, 4) blobs of 5 components.  Both in the same call,
alternating, best of 2 each, so the ratio is visible.  Bar: fastem at least 10x faster.

Small profile: 1e3 rows.
"""

import time

import numpy as np

from . import common as C

N_ROWS = 100_000
N_FEATURES = 4
N_TRUE = 5
#: Issue 14's bar: scikit-learn's loop / fastem's selection.
BAR = 10.0


def _data():
    X, _ = C.gaussian_blobs(C.rows(N_ROWS), N_FEATURES, N_TRUE)
    return X


def _fastem(X):
    sel = C.fastem.GaussianMixtureSelection(random_state=0)
    C.quiet_fit(sel, X)
    return sel


def _sklearn(X):
    from sklearn.mixture import GaussianMixture

    table = []
    for k in range(1, 10):
        for ct in ("full", "tied", "diag", "spherical"):
            g = C.quiet_fit(GaussianMixture(k, covariance_type=ct, random_state=0), X)
            table.append(g.bic(X))
    return table


class SelectionRatio:
    """``track_time_ratio_sklearn_over_fastem``: scikit-learn loop time / fastem
    selection time (higher is better; bar 10).  ``track_same_choice``: 1 when both pick
    the same (n_components, covariance_type)."""

    unit = "ratio"
    timeout = 900

    def setup(self):
        C.require("fastem")
        C.require("sklearn")
        self.X = _data()
        small = self.X[:2000]
        _fastem(small)  # compiled kernels, first-call costs of both libraries
        _sklearn(small[:500])

    def track_time_ratio_sklearn_over_fastem(self):
        best = {"fastem": np.inf, "sklearn": np.inf}
        for _ in range(2):
            for name, fn in (("fastem", _fastem), ("sklearn", _sklearn)):
                t0 = time.perf_counter()
                fn(self.X)
                best[name] = min(best[name], time.perf_counter() - t0)
        return best["sklearn"] / best["fastem"]

    def track_same_choice(self):
        sel = _fastem(self.X)
        table = _sklearn(self.X)
        i = int(np.argmin(table))
        ours = (sel.best_params_["n_components"], sel.best_params_["covariance_type"])
        return float(ours == (1 + i // 4, ("full", "tied", "diag", "spherical")[i % 4]))

    track_same_choice.unit = "same"


class SelectionTime:
    """Time of the default selection (fastem) and of scikit-learn's loop."""

    params = [C.IMPLEMENTATIONS]
    param_names = ["implementation"]
    timeout = 900

    def setup(self, implementation):
        C.require(implementation)
        self.X = _data()
        self.fn = _fastem if implementation == "fastem" else _sklearn
        self.fn(self.X[:2000])

    def time_default_selection(self, implementation):
        self.fn(self.X)
