"""The EM driver, written once and used by every mixture model.

A model supplies five small methods (the template-method pattern of scikit-learn's
``BaseMixture``):

``_check_model_params()``
    validate the model's own constructor parameters.
``_initialize(data, rng, restart)``
    starting parameters (a tuple of float64 arrays) for restart number ``restart``.
``_warm_params(data)``
    the fitted parameters, for ``warm_start``; raises ValueError when they do not fit
    the current constructor parameters or the data (the user must refit from scratch).
``_chunk_stats(chunk, params, mode, seed, iteration, labels)``
    the E-step over one chunk of the data at ``params``: a statistics value
    (``fastem._stats``) whose ``loglik`` is the chunk's weighted observed-data
    log-likelihood and ``n_changed`` its label changes.
``_m_step(params, stats)``
    the parameters that the summed statistics give.
``_fitted_attributes(params, data)``
    the public attributes (a dict name -> value) for parameters ``params``; may raise
    ValueError (e.g. parameters that overflow the data's dtype).

A fit changes nothing on the estimator until it has succeeded: every attribute is
computed first and then assigned in one go, so an exception (or Ctrl-C) during ``fit``
leaves the estimator as it was.

``data`` is the model's prepared-data object (a data source: in memory, a file read
in chunks, dask arrays) with ``n_samples``, ``total_weight`` (sum of sample weights),
``new_labels()`` (hard EM's per-row state) and ``reduce(fn, labels)``, which runs
``fn(chunk, labels of the chunk)`` over its chunks, wherever they are, and adds the
results in chunk order.  The driver only ever sees statistics: it hands each E-step's
sum to the M-step.
"""

import contextvars
import threading
import time
import warnings

import numba
import numpy as np

from ._base import BaseEstimator
from ._passes import numba_threads
from ._kernels._common import HARD, SOFT, STOCHASTIC
from .exceptions import convergence_warning_category
from ._validation import (
    EMPTY_I32,
    check_choice,
    check_int,
    check_random_state,
    check_real,
    set_feature_names,
)

MODES = {"soft": SOFT, "hard": HARD, "stochastic": STOCHASTIC}
# Signs of the information criteria: scikit-learn's (-2 logL + penalty, lower is better)
# or mclust's (2 logL - penalty, higher is better).
SIGNS = ("sklearn", "mclust")


_local = threading.local()


def check_interrupt():
    """Raise KeyboardInterrupt in a worker of ``run_interruptibly`` whose caller got Ctrl-C."""
    cancel = getattr(_local, "cancel", None)
    if cancel is not None and cancel.is_set():
        raise KeyboardInterrupt


def run_interruptibly(fn, *args):
    """``fn(*args)``, such that Ctrl-C (SIGINT) raises KeyboardInterrupt at once.

    A compiled kernel holds no GIL and never looks at signals, and when a KeyboardInterrupt
    becomes pending while Numba boxes a kernel's results, Numba reports it as a
    SystemError.  So, in the main thread (the only one Python delivers signals to), ``fn``
    runs in a worker thread while this thread waits in Python: Ctrl-C raises here within
    a fraction of a second, and the worker stops at its next ``check_interrupt()``
    (between EM passes) without touching the estimator.  Elsewhere ``fn`` runs inline.
    Thread-local Numba settings (``numba.set_num_threads``) and context variables are
    carried into the worker.
    """
    if threading.current_thread() is not threading.main_thread():
        return fn(*args)
    cancel = threading.Event()
    box = {}
    context = contextvars.copy_context()
    n_threads = numba_threads()

    def work():
        _local.cancel = cancel
        try:
            if n_threads is not None:
                numba.set_num_threads(n_threads)
            box["result"] = context.run(fn, *args)
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=work, name="fastem-worker", daemon=True)
    worker.start()
    try:
        worker.join()
    except KeyboardInterrupt:
        cancel.set()
        worker.join(2.0)  # usually the pass in flight ends well within this
        raise
    if "error" in box:
        raise box.pop("error")
    return box["result"]


class ChunkStats:
    """``model._chunk_stats(chunk, params, mode, seed, iteration, labels)`` as a function of
    (chunk, labels), for a data source to run anywhere.  Pickled (to a Dask worker) with
    a copy of the model's constructor parameters only: nothing fitted travels."""

    def __init__(self, model, params, mode, seed, iteration):
        self.model, self.args = model, (params, mode, seed, iteration)

    def __call__(self, chunk, labels):
        return self.model._chunk_stats(chunk, *self.args, labels)

    def __getstate__(self):
        model = self.model
        return type(model), model.get_params(deep=False), self.args

    def __setstate__(self, state):
        cls, params, self.args = state
        self.model = cls(**params)


class EMMixture(BaseEstimator):
    """Shared EM machinery: restarts, modes, stopping rules, history, scoring."""

    # What scikit-learn reads to tell a density estimator (its versions before 1.6).
    _estimator_type = "density_estimator"
    # Input tags that differ from scikit-learn's defaults (see ``__sklearn_tags__``).
    _input_tags = {}

    def __sklearn_tags__(self):
        """scikit-learn's description of this estimator (built only when it asks).

        A density estimator (like scikit-learn's GaussianMixture: ``score_samples`` and
        ``score``; ``predict`` gives cluster labels as well), unsupervised, fitted
        before use, dense 2-D float input (NaN: a missing value), and non-deterministic when
        ``random_state`` is None (initialisation draws from fresh entropy).
        """
        from sklearn.utils import InputTags, Tags, TargetTags

        return Tags(
            estimator_type="density_estimator",
            target_tags=TargetTags(required=False),
            non_deterministic=getattr(self, "random_state", None) is None,
            requires_fit=True,
            input_tags=InputTags(**{"two_d_array": True, "sparse": False, "allow_nan": False,
                                    **self._input_tags}),
        )

    def _check_em_params(self):
        check_choice(self.mode, "mode", MODES)
        check_real(self.tol, "tol", 0.0)
        check_int(self.max_iter, "max_iter", 0)
        check_int(self.n_init, "n_init", 1)
        check_int(self.verbose, "verbose", 0)
        check_random_state(self.random_state)  # type check only
        if not isinstance(self.warm_start, (bool, np.bool_)):
            raise ValueError(f"warm_start must be a bool; got {self.warm_start!r}")

    def _fit_em(self, data, init_data=None, feature_names=None):
        """Run ``n_init`` restarts of EM on prepared data, keep the best run, return self.

        ``init_data`` (default ``data``) is what initialisation sees; EM may run on an
        equivalent, smaller form of the data (e.g. distinct rows with summed weights).
        The work runs through ``run_interruptibly``; the attributes are set here, in the
        caller's thread, in one step, and only once everything succeeded.
        ``feature_names``: the data frame's column names (``feature_names_in_``) or None.
        """
        init_data = data if init_data is None else init_data
        self._check_em_params()
        self._check_model_params()
        attributes, warning = run_interruptibly(self._em_restarts, data, init_data)
        if warning:
            warnings.warn(warning, convergence_warning_category(), stacklevel=3)
        self.__dict__.update(attributes)  # one step: nothing half-assigned on Ctrl-C
        set_feature_names(self, feature_names)
        self.__dict__.pop("_online", None)  # a new fit starts any online EM afresh
        return self

    def _m_step_from(self, stats, params, stats_type, mismatch):
        """``m_step``'s shared part: ``stats`` must be a ``stats_type`` that matches the
        model (``mismatch``: None, or why it does not) and hold some weight; then the
        parameters are replaced and any running statistics of ``partial_fit`` dropped."""
        if not isinstance(stats, stats_type):
            raise TypeError(f"m_step takes a {stats_type.__name__}; got {type(stats).__name__}")
        if mismatch is not None:
            raise ValueError(mismatch(stats))
        if not (stats.weight > 0 and float(np.sum(stats.nk)) > 0):
            raise ValueError("these statistics hold no rows (zero total weight)")
        self._apply_m_step(stats, params)
        self.__dict__.pop("_online", None)  # running statistics no longer match
        return self

    # Online (stepwise) EM, Cappe & Moulines (2009): running statistics per unit weight,
    # s <- (1 - eta_t) s + eta_t s_batch with eta_t = (t + 2) ** -decay, and the M-step on s
    # after every batch.  The first batch is fitted by ordinary EM.
    def _partial_fit(self, fit_first, batch_stats, apply_m_step):
        # Whatever ``mode``: the running statistics are the soft E-step's (the one-hot
        # modes are for ``fit``; a first batch is fitted with the model's mode).
        decay = check_real(self.decay, "decay", 0.5)
        if not 0.5 < decay <= 1.0:
            raise ValueError(f"decay must be in (0.5, 1]; got {self.decay!r}")
        if not hasattr(self, "converged_"):  # unfitted: ordinary EM on the first batch
            fit_first()
            stats = batch_stats()
            self._online = (stats._scaled(1.0 / stats.weight), 0)
            return self
        online = getattr(self, "_online", None)
        stats = batch_stats()
        if not stats.weight > 0:
            raise ValueError("this batch has no weight (every sample_weight is 0)")
        if online is None:  # fitted by fit (or m_step): the running statistics start here
            running, t = stats._scaled(1.0 / stats.weight), 0
        else:
            running, t = online
            t += 1
            eta = (t + 2.0) ** -decay
            running = running._scaled(1.0 - eta) + stats._scaled(eta / stats.weight)
        apply_m_step(running)
        self.lower_bound_ = stats.mean_loglik  # the batch's, at the parameters before it
        self._online = (self._recentred(running), t)
        return self

    def _restart_rank(self, params, ll):
        """How restarts compare (the kept one ranks highest): by log-likelihood."""
        return (ll,)

    def _may_drop_restart(self, restart):
        """Whether restart number ``restart`` may be dropped when it raises ValueError
        (an exploratory start that could not be fitted) once an earlier one succeeded."""
        return False

    def _recentred(self, stats):
        """Running statistics about the model's current reference points (a model whose
        statistics have none returns them as they are)."""
        return stats

    def _em_restarts(self, data, init_data):
        """The restarts of ``_fit_em``: returns (attributes, warning message or None)."""
        mode = self.mode
        code = MODES[mode]
        rng = check_random_state(self.random_state)
        warm = self.warm_start and hasattr(self, "converged_")
        warm_params = self._warm_params(data) if warm else None
        n_init = 1 if warm else self.n_init
        verbose = self.verbose
        interval = max(1, getattr(self, "verbose_interval", 1))
        total_w = data.total_weight
        best, best_rank = None, None
        def restart(init):
            """One restart: ("init only" or "em", (log-likelihood, parameters, converged,
            iterations, history))."""
            params = warm_params if warm else self._initialize(init_data, rng, init)
            seed = int(rng.integers(0, 2**63 - 1))
            labels = data.new_labels() if code == HARD else EMPTY_I32
            history = []
            converged = False
            kept, kept_ll = params, -np.inf
            t0 = t_last = time.perf_counter()
            if verbose:
                print(f"Initialization {init}")
            if self.max_iter == 0:
                # As scikit-learn: the parameters of the initialisation as they are, no EM
                # pass, so no log-likelihood (-inf) and not converged; of several
                # initialisations the last one is kept (none is scored).
                return "init only", (-np.inf, params, False, 0, [])
            # As scikit-learn: a warm start measures its first change from the last bound.
            prev = self.lower_bound_ if warm else -np.inf
            for it in range(1, self.max_iter + 1):
                check_interrupt()
                stats, labels = self._e_step(data, params, code, seed, it, labels)
                new_params = self._m_step(params, stats)
                ll, changed = stats.loglik / total_w, stats.n_changed
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
            return "em", (kept_ll, kept, converged, it, history)

        for init in range(n_init):
            try:
                kind, result = restart(init)
            except ValueError:
                if not self._may_drop_restart(init) or best is None:
                    raise
                continue  # an exploratory restart that could not be fitted: dropped
            if kind == "init only":
                best = result
                continue
            rank = self._restart_rank(result[1], result[0])
            if best is None or rank > best_rank:
                best, best_rank = result, rank
        kept_ll, params, converged, n_iter, history = best
        warning = None
        if code != STOCHASTIC and not converged and self.max_iter > 0:
            rule = (
                "the mean log-likelihood changed by less than tol" if code == SOFT else
                "an iteration in which no row changed component (hard EM ignores tol)"
            )
            # scikit-learn's words first: warning filters match the start of the message.
            warning = (
                "Best performing initialization did not converge. Try different init "
                "parameters, or increase max_iter, tol, or check for degenerate data. "
                f"{type(self).__name__} ({mode} EM) stopped at max_iter={self.max_iter} "
                f"before {rule}."
            )
        attributes = self._fitted_attributes(params, data)
        attributes.update(converged_=converged, n_iter_=n_iter, lower_bound_=kept_ll,
                          lower_bounds_=list(history))
        return attributes, warning

    def _e_step(self, data, params, mode, seed, iteration, labels):
        """(the statistics of one E-step over all of ``data``: its chunks' statistics,
        added in chunk order; the labels after it)."""
        return data.reduce(ChunkStats(self, params, mode, seed, iteration), labels)

    def save(self, path):
        """Write this model to ``path`` as a JSON document; ``fastem.load(path)`` reads it
        back (see :mod:`fastem.io`: exact floats, no pickle)."""
        from . import io

        io.save(self, path)

    # Scoring shared by every model: each takes the model's own extra arguments.
    def score(self, X, y=None, **kwargs):
        """Mean per-row log-likelihood of ``X`` (``y`` ignored)."""
        return float(np.mean(self.score_samples(X, **kwargs)))

    def _criterion(self, X, args, kwargs, per_parameter, sign="sklearn"):
        check_choice(sign, "sign", SIGNS)
        ll = self.score_samples(X, *args, **kwargs)
        n = ll.shape[0]
        value = -2.0 * float(np.mean(ll)) * n + self._n_parameters() * per_parameter(n)
        return value if sign == "sklearn" else -value

    def _icl(self, X, args, kwargs, sign="sklearn"):
        check_choice(sign, "sign", SIGNS)
        bic = self._criterion(X, args, kwargs, np.log)
        top = self.predict_proba(X, *args, **kwargs).max(axis=1)
        top = np.asarray(top.compute() if hasattr(top, "compute") else top, dtype=np.float64)
        with np.errstate(divide="ignore"):  # a posterior of 0 at the MAP cannot happen
            entropy = -2.0 * float(np.sum(np.log(top)))
        return bic + entropy if sign == "sklearn" else -(bic + entropy)

    def bic(self, X, *args, sign="sklearn", **kwargs):
        """Bayesian information criterion on ``X`` (lower is better)."""
        return self._criterion(X, args, kwargs, np.log, sign)

    def aic(self, X, *args, sign="sklearn", **kwargs):
        """Akaike information criterion on ``X`` (lower is better)."""
        return self._criterion(X, args, kwargs, lambda n: 2.0, sign)

    def icl(self, X, *args, sign="sklearn", **kwargs):
        """Integrated completed likelihood on ``X`` (lower is better)."""
        return self._icl(X, args, kwargs, sign)
