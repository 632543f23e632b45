"""Model selection: fit a grid of candidate mixtures, score each by an information
criterion (BIC, AIC or ICL), keep the best.

One base class, thin subclasses per model (``GaussianMixtureSelection`` over numbers of
components and covariance types, ``BinomialMixtureSelection`` over numbers of
components): the loop, the failure handling and the table are the same for both, and a
selection object then answers for its best estimator (``predict``, ``score_samples``,
...), like scikit-learn's ``GridSearchCV`` does for ``best_estimator_``.

Criteria in scikit-learn's sign (lower is better), with logL the total log-likelihood
(``sum_i w_i log p(x_i)``; with ``sample_weight`` the weights count as frequencies and n
is their sum), p the number of free parameters::

    bic = -2 logL + p ln n
    aic = -2 logL + 2 p
    icl = bic - 2 sum_i w_i log max_c p(c | x_i)      (R mclust's ICL; icl >= bic)

R mclust reports the same numbers with the other sign (``2 logL - p ln n``, higher is
better): ``-sel.criteria_["bic"]`` is mclust's BIC.
"""

import warnings

import numpy as np

from ._base import BaseEstimator
from ._validation import (
    check_choice,
    check_fitted,
    check_int,
    check_random_state,
    set_feature_names,
)
from .exceptions import ConvergenceWarning

CRITERIA = ("bic", "aic", "icl")


def _n_components_list(value):
    """The candidate numbers of components as a list of ints >= 1 (ValueError naming the
    value otherwise)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        values = [value]
    else:
        try:
            values = list(value)
        except TypeError:
            raise ValueError(f"n_components must be an int or a sequence of ints; got "
                             f"{value!r}") from None
    if not values:
        raise ValueError(f"n_components is empty ({value!r}): give at least one candidate")
    out = []
    for v in values:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise ValueError(f"n_components must hold ints; got {v!r} in {value!r}")
        if v <= 0:
            raise ValueError(f"n_components must be >= 1; got {v!r} in {value!r}")
        out.append(int(v))
    return out


class _Selection(BaseEstimator):
    """Shared machinery; a subclass sets ``_model`` (the estimator class), ``_own``
    (constructor parameters of the selection itself) and implements ``_grid()`` and
    ``_data_args``."""

    _model = None
    _own = ()

    def __init__(self, **params):
        self._extra = tuple(sorted(params))
        for name, value in params.items():
            setattr(self, name, value)

    # ---------------------------------------------------------------- parameters
    def get_params(self, deep=True):
        """The selection's own parameters and the estimator parameters it passes on."""
        out = super().get_params(deep)
        out.update({name: getattr(self, name) for name in getattr(self, "_extra", ())})
        return out

    def set_params(self, **params):
        own = set(self._param_names())
        for name, value in params.items():
            if name not in own:
                self._extra = tuple(sorted(set(getattr(self, "_extra", ())) | {name}))
            setattr(self, name, value)
        return self

    def _model_params(self):
        """The estimator parameters passed on, validated by name."""
        allowed = set(self._model()._param_names()) - set(self._controlled)
        extra = {name: getattr(self, name) for name in getattr(self, "_extra", ())}
        bad = sorted(set(extra) - allowed)
        if bad:
            raise ValueError(f"{type(self).__name__} got parameters that "
                             f"{self._model.__name__} does not take (or that the selection "
                             f"sets itself): {bad}; valid: {sorted(allowed)}")
        return extra

    def _seeds(self, n):
        """One random_state per candidate: an int is passed to every fit as it is (each
        candidate is then the fit that ``random_state=`` that int gives on its own), a
        generator draws one seed per candidate, None leaves every fit fresh entropy."""
        rs = self.random_state
        if rs is None or isinstance(rs, (int, np.integer)):
            return [rs] * n
        rng = check_random_state(rs)
        return [int(s) for s in rng.integers(0, 2**31 - 1, size=n)]

    def __sklearn_tags__(self):
        """As the estimators it selects among (a density estimator)."""
        return self._model(random_state=self.random_state).__sklearn_tags__()

    # ---------------------------------------------------------------- fitting
    def _fit_grid(self, X, data_kwargs, sample_weight):
        check_choice(self.criterion, "criterion", CRITERIA)
        check_int(self.n_init, "n_init", 1)
        grid = self._grid()
        params = self._model_params()
        # what is wrong with the data is raised as a fit raises it, not as n failures
        self._model(**params)._check_fit_input(X, sample_weight=sample_weight, **data_kwargs)
        seeds = self._seeds(len(grid))
        columns = {name: [] for name in ("n_components", "covariance_type", "log_likelihood",
                                         "n_parameters", "bic", "aic", "icl", "converged",
                                         "n_iter", "error")}
        best, best_i, best_value, failures = None, -1, np.inf, []
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        # Exact reuse: candidates that differ only in covariance type share their k-means
        # initialisations (same data, components and random state: the same result).
        shared = {}
        for i, ((k, extra), seed) in enumerate(zip(grid, seeds)):
            est = self._model(k, n_init=self.n_init, random_state=seed, **extra, **params)
            if i and k != grid[i - 1][0]:
                shared.clear()  # the candidates come by number of components
            if seed is not None:
                est._kmeans_cache = shared
            row = dict(n_components=k, covariance_type=extra.get("covariance_type"))
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    est.fit(X, **data_kwargs, sample_weight=sample_weight)
                est.__dict__.pop("_kmeans_cache", None)
                row.update(self._criteria(est, X, data_kwargs, w), error=None)
            except (ValueError, np.linalg.LinAlgError, FloatingPointError) as exc:
                est.__dict__.pop("_kmeans_cache", None)
                if isinstance(exc, TypeError):
                    raise  # about the input, not this candidate
                row.update(log_likelihood=np.nan, n_parameters=np.nan, bic=np.nan,
                           aic=np.nan, icl=np.nan, converged=False, n_iter=0,
                           error=f"{type(exc).__name__}: {exc}")
                failures.append(row)
            for name in columns:
                columns[name].append(row[name])
            value = row[self.criterion]
            if np.isfinite(value) and value < best_value:  # ties: the first candidate
                best, best_i, best_value = est, i, value
        if best is None:
            reasons = "; ".join(f"n_components={r['n_components']}"
                                + (f", covariance_type={r['covariance_type']!r}"
                                   if r["covariance_type"] else "") + f": {r['error']}"
                                for r in failures[:5])
            raise ValueError(f"every candidate failed to fit ({len(failures)}): {reasons}")
        if not best.converged_ and best.max_iter > 0 and best.mode != "stochastic":
            warnings.warn(f"The best candidate ({best.n_components} components) did not "
                          "converge: increase max_iter or tol.", ConvergenceWarning,
                          stacklevel=3)
        table = {}
        for name, values in columns.items():
            table[name] = np.array(values, dtype=object if name in ("covariance_type", "error")
                                   else None)
        if all(v is None for v in table["covariance_type"]):
            del table["covariance_type"]
        self.criteria_ = table
        self.best_estimator_ = best
        self.best_params_ = {"n_components": best.n_components,
                             **({"covariance_type": best.covariance_type}
                                if "covariance_type" in table else {})}
        self.best_index_ = best_i
        self.n_features_in_ = best.n_features_in_
        set_feature_names(self, getattr(best, "feature_names_in_", None))
        return self

    def _criteria(self, est, X, data_kwargs, w):
        """(log_likelihood, n_parameters, bic, aic, icl, converged, n_iter) of a fitted
        candidate: one pass for the log-likelihoods, one for the posteriors."""
        ll = _computed(est.score_samples(X, **data_kwargs)).astype(np.float64)
        top = _computed(est.predict_proba(X, **data_kwargs).max(axis=1)).astype(np.float64)
        if w is None:
            total, n, entropy = float(ll.sum()), ll.shape[0], -2.0 * float(np.log(top).sum())
        else:
            keep = w > 0  # a row of weight 0 is not in the data (and may score -inf)
            total = float(w[keep] @ ll[keep])
            n = float(w.sum())
            entropy = -2.0 * float(w[keep] @ np.log(top[keep]))
        p = est._n_parameters()
        bic = -2.0 * total + p * np.log(n)
        return dict(log_likelihood=total, n_parameters=p, bic=bic, aic=-2.0 * total + 2.0 * p,
                    icl=bic + entropy, converged=bool(est.converged_), n_iter=int(est.n_iter_))

    def save(self, path):
        """Write this selection (its table and best estimator) to ``path`` as JSON; read it
        back with ``fastem.load(path)``."""
        from . import io

        io.save(self, path)

    # ---------------------------------------------------------------- the best estimator
    def _best(self):
        check_fitted(self, "best_estimator_")
        return self.best_estimator_

    def predict(self, X, **kwargs):
        """``best_estimator_.predict``."""
        return self._best().predict(X, **kwargs)

    def predict_proba(self, X, **kwargs):
        """``best_estimator_.predict_proba``."""
        return self._best().predict_proba(X, **kwargs)

    def score_samples(self, X, **kwargs):
        """``best_estimator_.score_samples``."""
        return self._best().score_samples(X, **kwargs)

    def score(self, X, y=None, **kwargs):
        """``best_estimator_.score``."""
        return self._best().score(X, **kwargs)

    def sample(self, n_samples=1, **kwargs):
        """``best_estimator_.sample``."""
        return self._best().sample(n_samples, **kwargs)

    def bic(self, X, **kwargs):
        """``best_estimator_.bic``."""
        return self._best().bic(X, **kwargs)

    def aic(self, X, **kwargs):
        """``best_estimator_.aic``."""
        return self._best().aic(X, **kwargs)

    def icl(self, X, **kwargs):
        """``best_estimator_.icl``."""
        return self._best().icl(X, **kwargs)


def _computed(a):
    return np.asarray(a.compute() if hasattr(a, "compute") else a)


class GaussianMixtureSelection(_Selection):
    """Choose the number of components and the covariance type of a Gaussian mixture by
    an information criterion, as R mclust's ``mclustBIC`` does.

    Every candidate (``n_components`` x ``covariance_types``, in that order: the number
    of components varies slowest) is a ``fastem.GaussianMixture`` fitted on all of X;
    the one with the lowest criterion is kept (the first of equal ones).  With an int
    ``random_state`` the candidates of one number of components share their k-means
    initialisation (it does not depend on the covariance type: the same result, computed
    once).

    Parameters
    ----------
    n_components : int or sequence of int, default=(1, ..., 9)
    covariance_types : sequence of {"full", "tied", "diag", "spherical"}, default all four
    criterion : {"bic", "aic", "icl"}, default="bic"
    n_init : int, default=1
        Restarts per candidate.
    random_state : int, Generator, RandomState or None, default=None
        An int is passed to every candidate (each is then reproducible on its own).
    **gaussian_mixture_params
        Any other ``GaussianMixture`` parameter (``tol``, ``max_iter``, ``init_params``,
        ``reg_covar``, ``mode``, ...), passed to every candidate.

    Attributes
    ----------
    best_estimator_ : GaussianMixture
        The fitted candidate with the lowest criterion.
    best_params_ : dict
        Its ``{"n_components": ..., "covariance_type": ...}``.
    best_index_ : int
        Its row in ``criteria_``.
    criteria_ : dict of ndarray
        One row per candidate: ``n_components``, ``covariance_type``, ``log_likelihood``
        (total), ``n_parameters``, ``bic``, ``aic``, ``icl``, ``converged``, ``n_iter``
        and ``error`` (None, or why the candidate failed; its criteria are then NaN):
        ``pandas.DataFrame(sel.criteria_)``.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        The best candidate's (a fit on a data frame with string column names only).
    """

    _controlled = ("n_components", "covariance_type", "n_init", "random_state")

    def __init__(self, n_components=(1, 2, 3, 4, 5, 6, 7, 8, 9),
                 covariance_types=("full", "tied", "diag", "spherical"), criterion="bic",
                 n_init=1, random_state=None, **gaussian_mixture_params):
        self.n_components = n_components
        self.covariance_types = covariance_types
        self.criterion = criterion
        self.n_init = n_init
        self.random_state = random_state
        super().__init__(**gaussian_mixture_params)

    @property
    def _model(self):
        from .gaussian import GaussianMixture

        return GaussianMixture

    def _grid(self):
        from .gaussian import COVARIANCE_TYPES

        ks = _n_components_list(self.n_components)
        cts = self.covariance_types
        cts = [cts] if isinstance(cts, str) else list(cts)
        if not cts:
            raise ValueError(f"covariance_types is empty ({self.covariance_types!r}): give "
                             "at least one of " + ", ".join(COVARIANCE_TYPES))
        for ct in cts:
            check_choice(ct, "covariance_types", COVARIANCE_TYPES)
        return [(k, {"covariance_type": ct}) for k in ks for ct in cts]

    def fit(self, X, y=None, *, sample_weight=None):
        """Fit every candidate on ``X`` and keep the best; returns ``self``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            NaN cells are missing values (see ``GaussianMixture``).
        y : ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights, counted as frequencies in the criteria.
        """
        return self._fit_grid(X, {}, sample_weight)

    def impute(self, X, **kwargs):
        """``best_estimator_.impute``."""
        return self._best().impute(X, **kwargs)


class BinomialMixtureSelection(_Selection):
    """Choose the number of components of a binomial mixture by an information
    criterion.

    Parameters
    ----------
    n_components : int or sequence of int, default=(1, ..., 9)
    criterion : {"bic", "aic", "icl"}, default="bic"
    n_init : int, default=1
    random_state : int, Generator, RandomState or None, default=None
    **binomial_mixture_params
        Any other ``BinomialMixture`` parameter (``trials``, ``tol``, ``max_iter``, ...).

    Attributes
    ----------
    best_estimator_ : BinomialMixture
        The fitted candidate with the lowest criterion.
    best_params_ : dict
        Its ``{"n_components": ...}``.
    best_index_ : int
        Its row in ``criteria_``.
    criteria_ : dict of ndarray
        As ``GaussianMixtureSelection``'s, without ``covariance_type``.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        The best candidate's (a fit on a data frame with string column names only).
    """

    _controlled = ("n_components", "n_init", "random_state")

    def __init__(self, n_components=(1, 2, 3, 4, 5, 6, 7, 8, 9), criterion="bic", n_init=1,
                 random_state=None, **binomial_mixture_params):
        self.n_components = n_components
        self.criterion = criterion
        self.n_init = n_init
        self.random_state = random_state
        super().__init__(**binomial_mixture_params)

    @property
    def _model(self):
        from .binomial import BinomialMixture

        return BinomialMixture

    def _grid(self):
        return [(k, {}) for k in _n_components_list(self.n_components)]

    def fit(self, X, y=None, *, trials=None, sample_weight=None):
        """Fit every candidate on the counts ``X`` (``trials`` as ``BinomialMixture.fit``)
        and keep the best; returns ``self``."""
        return self._fit_grid(X, {"trials": trials}, sample_weight)
