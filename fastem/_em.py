"""The EM driver, written once and used by every mixture model.

A model supplies five small methods (the template-method pattern of scikit-learn's
``BaseMixture``):

``_check_model_params()``
    validate the model's own constructor parameters.
``_initialize(data, rng)``
    starting parameters (a tuple of float64 arrays) for one restart.
``_current_params()``
    the fitted parameters, for ``warm_start``.
``_em_step(data, params, mode, seed, iteration, labels)``
    one pass over the data at ``params``: returns ``(loglik_sum, n_changed,
    new_params)`` where ``loglik_sum`` is the weighted observed-data log-likelihood at
    ``params`` (up to the constant ``data.loglik_offset``) and ``new_params`` the
    M-step result.
``_set_fitted(params)``
    store parameters as public attributes.

``data`` is the model's prepared-data object with ``n_samples``, ``total_weight``
(sum of sample weights) and ``loglik_offset``.
"""

import time
import warnings

import numpy as np

from ._base import BaseEstimator
from ._kernels._common import HARD, SOFT, STOCHASTIC
from ._validation import EMPTY_I32, check_choice, check_int, check_random_state, check_real

MODES = {"soft": SOFT, "hard": HARD, "stochastic": STOCHASTIC}


class ConvergenceWarning(UserWarning):
    """Soft or hard EM stopped at ``max_iter`` before meeting its stopping rule."""


class EMMixture(BaseEstimator):
    """Shared EM machinery: restarts, modes, stopping rules, history, scoring."""

    def _check_em_params(self):
        check_choice(self.mode, "mode", MODES)
        check_real(self.tol, "tol", 0.0)
        check_int(self.max_iter, "max_iter", 1)
        check_int(self.n_init, "n_init", 1)
        check_int(self.verbose, "verbose", 0)
        check_random_state(self.random_state)  # type check only
        if not isinstance(self.warm_start, (bool, np.bool_)):
            raise ValueError(f"warm_start must be a bool; got {self.warm_start!r}")

    def _fit_em(self, data, init_data=None):
        """Run ``n_init`` restarts of EM on prepared data and keep the best run.

        ``init_data`` (default ``data``) is what initialisation sees; EM may run on an
        equivalent, smaller form of the data (e.g. distinct rows with summed weights).
        """
        init_data = data if init_data is None else init_data
        self._check_em_params()
        self._check_model_params()
        mode = self.mode
        code = MODES[mode]
        rng = check_random_state(self.random_state)
        warm = self.warm_start and hasattr(self, "converged_")
        n_init = 1 if warm else self.n_init
        verbose = self.verbose
        interval = max(1, getattr(self, "verbose_interval", 1))
        total_w = data.total_weight
        best = None
        for init in range(n_init):
            params = self._current_params() if warm else self._initialize(init_data, rng)
            seed = int(rng.integers(0, 2**63 - 1))
            labels = np.full(data.n_samples, -1, dtype=np.int32) if code == HARD else EMPTY_I32
            history = []
            converged = False
            kept, kept_ll = params, -np.inf
            t0 = t_last = time.perf_counter()
            if verbose:
                print(f"Initialization {init}")
            # As scikit-learn: a warm start measures its first change from the last bound.
            prev = self.lower_bound_ if warm else -np.inf
            for it in range(1, self.max_iter + 1):
                ll_sum, changed, new_params = self._em_step(data, params, code, seed, it, labels)
                ll = (ll_sum + data.loglik_offset) / total_w
                history.append(ll)
                if code == STOCHASTIC:
                    # The chain never settles: keep the best iterate it visited.
                    if ll > kept_ll:
                        kept, kept_ll = params, ll
                else:
                    kept, kept_ll = new_params, ll
                if verbose and it % interval == 0:
                    now = time.perf_counter()
                    msg = f"  Iteration {it}"
                    if verbose >= 2:
                        msg += f"\t time {now - t_last:.3f}s\t log-likelihood {ll:.8g}"
                        msg += f"\t change {ll - prev:.3g}" if it > 1 else ""
                        if code == HARD:
                            msg += f"\t labels changed {changed}"
                    print(msg)
                    t_last = now
                params = new_params
                if code == SOFT and abs(ll - prev) < self.tol:
                    converged = True
                    break
                if code == HARD and it > 1 and changed == 0:
                    converged = True
                    break
                prev = ll
            if verbose:
                state = "converged" if converged else "did not converge"
                print(
                    f"Initialization {init} {state}: log-likelihood {kept_ll:.8g}, "
                    f"{it} iterations, {time.perf_counter() - t0:.3f}s"
                )
            if best is None or kept_ll > best[0]:
                best = (kept_ll, kept, converged, it, history)
        kept_ll, params, converged, n_iter, history = best
        if code != STOCHASTIC and not converged:
            rule = "the change of the mean log-likelihood below tol" if code == SOFT else (
                "no assignment changing"
            )
            warnings.warn(
                f"{type(self).__name__} ({mode} EM) stopped at max_iter={self.max_iter} "
                f"without {rule}. Increase max_iter or tol, or check the data.",
                ConvergenceWarning,
                stacklevel=3,
            )
        self._set_fitted(params)
        self.converged_ = converged
        self.n_iter_ = n_iter
        self.lower_bound_ = kept_ll
        self.lower_bounds_ = list(history)
        return self

    # Scoring shared by every model: each takes the model's own extra arguments.
    def score(self, X, *args, **kwargs):
        """Mean per-row log-likelihood of ``X``."""
        return float(np.mean(self.score_samples(X, *args, **kwargs)))

    def bic(self, X, *args, **kwargs):
        """Bayesian information criterion on ``X`` (lower is better)."""
        n = np.shape(X)[0]
        return -2.0 * self.score(X, *args, **kwargs) * n + self._n_parameters() * np.log(n)

    def aic(self, X, *args, **kwargs):
        """Akaike information criterion on ``X`` (lower is better)."""
        n = np.shape(X)[0]
        return -2.0 * self.score(X, *args, **kwargs) * n + 2.0 * self._n_parameters()
