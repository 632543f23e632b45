"""Fuzzing fastem's model selection: a hypothesis state machine of random call sequences.

The contract of fuzz_machine.py, for ``GaussianMixtureSelection`` and
``BinomialMixtureSelection``: every call succeeds with finite, correctly shaped results or
raises ValueError / TypeError (never another exception, a crash, a hang or a
RuntimeWarning from fastem); a fit on valid input (valid parameters of the selection and
of the models it passes them to, readable X with at least one candidate that has enough
rows of positive weight) succeeds and one on invalid input raises; the fitted attributes
are the truth (``set_params`` changes nothing until the next fit, a failed fit leaves the
selection as it was); the table and the choice agree (``criteria_`` has one row per
candidate in grid order, ``best_index_`` is the first row with the lowest finite value of
the criterion, ``best_params_`` and ``n_features_in_`` are the best estimator's, failed
candidates have NaN criteria and a reason); the selection answers exactly as its best
estimator; ``save``/``fastem.load`` and pickle give a selection with bit-identical answers;
queries on data of the wrong width raise; inputs are never modified; a valid fit is only
refused when every candidate fails on its own too, and the best candidate is the model
fitted on its own (an int random_state).  One fastem limit it found is excused where it
shows, and counted (``known_float32_overflow``); two bugs it found are fixed (load's
symmetry test refused covariances symmetric to rounding; a float32 covariance made
indefinite by rounding broke ``sample`` and ``load``).  Inputs are fuzz_machine's (dtypes, layouts, containers,
memmaps, scales, constant and duplicated rows, NaN / inf cells); run through
``fuzz_machine.main(n, "selection")``, in a child process (tests/test_fuzz.py).
"""

import collections
import copy
import os
import pickle
import shutil
import tempfile

import numpy as np
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import fastem
from fastem import (
    BinomialMixture,
    BinomialMixtureSelection,
    GaussianMixture,
    GaussianMixtureSelection,
)
from fuzz_machine import (
    LOG,
    STATS,
    _is_int,
    attempt,
    build_counts,
    build_gauss,
    build_weights,
    check_finite,
    check_query_result,
    check_unchanged,
    count_inputs,
    counts_valid,
    estimator_settings,
    fail,
    gauss_base,
    gauss_inputs,
    positive_rows,
    same,
    short,
    snap,
    weight_inputs,
)

NAN = float("nan")
QUERIES = ["predict", "predict_proba", "score_samples", "score", "bic", "aic", "icl"]
GAUSS_QUERIES = QUERIES + ["impute"]
COLUMNS = ["n_components", "log_likelihood", "n_parameters", "bic", "aic", "icl", "converged",
           "n_iter", "error"]
CRITERIA = ("bic", "aic", "icl")

# (value, valid) per parameter; validity None: judged at each fit (trials, against the
# counts).  The selection's own parameters:
OWN = {
    "n_components": [(1, True), (2, True), (3, True), ([1, 2], True), ((1, 3), True),
                     ("range", True), ([3, 1], True), ([2, 2], True), (np.int64(2), True),
                     ([np.int64(1), 2], True),
                     ([], False), (0, False), (-1, False), (2.5, False), ("2", False),
                     ([1, 2.5], False), ([2, 0], False), (True, False), (None, False),
                     ([True], False)],
    "criterion": [("bic", True), ("aic", True), ("icl", True), ("BIC", False), ("waic", False),
                  (None, False)],
    "n_init": [(1, True), (2, True), (0, False), (1.5, False), ("1", False)],
    "random_state": [(0, True), (7, True), (None, True), ("gen", True), ("rs", True),
                     ("x", False), (1.5, False), (-1, False)],
}
GAUSS_OWN = dict(OWN, covariance_types=[
    ("full", True), ("diag", True), ("spherical", True), (["diag", "spherical"], True),
    (("tied", "full"), True), (["full", "tied", "diag", "spherical"], True),
    (["spherical", "spherical"], True),
    ([], False), ("bogus", False), (["full", "Full"], False), (None, False), (3, False)])
# ... and the model parameters the selection passes on to every candidate
PASS = {
    "tol": [(1e-3, True), (0.0, True), (0.1, True), (-1.0, False), (NAN, False), ("x", False)],
    "max_iter": [(0, True), (1, True), (3, True), (5, True), (-1, False), (1.5, False)],
    "mode": [("soft", True), ("hard", True), ("stochastic", True), ("SOFT", False),
             (None, False)],
    "warm_start": [(False, True), (True, True), ("yes", False)],
}
GAUSS_PASS = dict(PASS, **{
    "reg_covar": [(1e-6, True), (1e-3, True), (0.0, True), (-1e-3, False), (NAN, False)],
    "init_params": [("kmeans", True), ("k-means++", True), ("random", True),
                    ("random_from_data", True), ("kmeans++", False)],
})
BINOM_PASS = dict(PASS, **{
    "init_params": [("random", True), ("random_from_data", True), ("kmeans", False)],
    "fit_weights": [(True, True), (False, True), (1, False)],
    # used by the calls without trials= (judged against their counts)
    "trials": [(1, None), (3, None), (10, None), (20, None), (np.int64(5), None), (4.0, None),
               ("vec", None), (0, None), (2.5, None), ("x", None)],
})
# names the selection must refuse at fit (unknown, or set by the selection itself)
BAD_NAMES = {"gaussian": {"tolerance": 1e-3, "covariance_type": "full", "n_component": 2},
             "binomial": {"tolerance": 1e-3, "covariance_types": ["full"], "n_component": 2}}
# cheap starting grids (each fit of a selection fits every candidate)
START_K = [1, 2, 3, [1, 2], [1, 3], [2, 3]]
START_CT = ["full", "diag", "spherical", "tied", ["diag", "spherical"], ["full", "tied"]]


def tables(kind):
    return (GAUSS_OWN, GAUSS_PASS) if kind == "gaussian" else (OWN, BINOM_PASS)


def param_choices(table, name):
    """Mostly valid values (valid ones five times: a bad value stays until it is set again),
    so that runs reach fitted selections."""
    ok = [p for p in table[name] if p[1] is not False]
    return st.sampled_from(ok * 5 + [p for p in table[name] if p[1] is False])


def param_value(name, v, d, seed):
    """The value to pass for a marker (a fresh copy of a list, so that each selection holds
    its own)."""
    if name == "random_state" and v == "gen":
        return np.random.default_rng(seed)
    if name == "random_state" and v == "rs":
        return np.random.RandomState(seed)
    if name == "n_components" and v == "range":
        return range(1, 4)
    if name == "trials" and v == "vec":
        return np.arange(10, 10 + d, dtype=np.int64)
    if isinstance(v, (list, tuple)):
        return type(v)(v)
    return v


def as_k_list(v):
    """The candidate numbers of components of a valid n_components."""
    return [int(v)] if _is_int(v) else [int(x) for x in v]


def as_ct_list(v):
    return [v] if isinstance(v, str) else list(v)


def trials_canon(t):
    """A trials parameter as an array for counts_valid, or None if it is not numeric."""
    if isinstance(t, (str, bytes)) or t is None:
        return None
    try:
        return np.asarray(t, dtype=np.float64)
    except (TypeError, ValueError):
        return None


def known_float32_overflow(est, xb, value):
    """A fastem bug this fuzzer found (not fixed here): a Gaussian model asked about
    float32 rows far from it (e.g. ``GaussianMixture(1).fit([[0, 0], [1, 0], [0, 1]])`` and
    ``score_samples(np.array([[1e20, 1e20]], dtype=np.float32))``) computes in float32 and
    returns -inf (``score`` -inf, ``bic`` / ``aic`` / ``icl`` inf) where the float64 answer,
    about -9e40, is finite but beyond float32's range; a fit raises a clear ValueError in
    that situation, queries do not.  True exactly then: float32 input, a non-finite
    answer, and a float64 score_samples of the same rows that is finite with a row beyond
    float32's range."""
    if not isinstance(est, GaussianMixture) or xb.canon is None or (
            xb.canon.dtype != np.float32) or np.all(np.isfinite(value)):
        return False
    ref = est.score_samples(xb.canon.astype(np.float64))
    return bool(np.all(np.isfinite(ref)) and np.abs(ref).max() > np.finfo(np.float32).max)


def est_state(est):
    """A comparable token of an estimator's parameters and fitted attributes."""
    params = tuple((n, snap(v)) for n, v in sorted(est.get_params(deep=False).items()))
    fitted = tuple((n, snap(v)) for n, v in sorted(vars(est).items())
                   if n.endswith("_") and not n.startswith("_"))
    return params, fitted


def fitted_state(sel):
    """A comparable token of a selection's fitted attributes (the best estimator's
    included), exact for floats."""
    out = []
    for name, v in sorted(vars(sel).items()):
        if not name.endswith("_") or name.startswith("_"):
            continue
        if name == "best_estimator_":
            out.append((name, est_state(v)))
        elif isinstance(v, dict):
            out.append((name, tuple((k, snap(x)) for k, x in v.items())))
        else:
            out.append((name, snap(v)))
    return tuple(out)


class SelectionMachine(RuleBasedStateMachine):
    """One selection at a time (Gaussian or binomial); ``self.frozen`` is a deep copy taken
    after the last successful fit."""

    def __init__(self):
        super().__init__()
        self.tmpdir = tempfile.mkdtemp(prefix="fastem-fuzz-sel-")
        self.kind = None
        self.est = None
        self.frozen = None
        self.fit_info = None
        self.fit_input = None  # (X Built, trials keyword dict) of the last valid fit
        self.params = {}  # name -> (marker, valid, value)
        self.bad_names = set()
        self.kept = collections.deque(maxlen=20)
        self.saves = 0

    def teardown(self):
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    # ------------------------------------------------------------------ helpers
    @property
    def cls(self):
        return GaussianMixtureSelection if self.kind == "gaussian" else BinomialMixtureSelection

    @property
    def model(self):
        return GaussianMixture if self.kind == "gaussian" else BinomialMixture

    def d_now(self):
        return self.fit_info["d"] if self.fit_info else 2

    def value(self, name, default):
        return self.params[name][2] if name in self.params else default

    def grid(self):
        """The candidates (n_components, covariance_type or None), in the table's order
        (None if the selection's own parameters are not valid)."""
        own = tables(self.kind)[0]
        if any(self.params[n][1] is False for n in own if n in self.params):
            return None
        ks = as_k_list(self.value("n_components", (1, 2, 3, 4, 5, 6, 7, 8, 9)))
        if self.kind != "gaussian":
            return [(k, None) for k in ks]
        cts = as_ct_list(self.value("covariance_types", ("full", "tied", "diag", "spherical")))
        return [(k, ct) for k in ks for ct in cts]

    def need(self, k):
        """Rows of positive weight a candidate of k components needs."""
        return max(2, k) if self.kind == "gaussian" else k

    def new_selection(self, data, kind):
        self.kind = kind
        own, passed = tables(kind)
        self.params = {"max_iter": (3, True, 3), "random_state": (0, True, 0)}
        self.bad_names = set()
        self.frozen = None
        self.fit_info = None
        self.fit_input = None
        k = data.draw(st.sampled_from(START_K), label="n_components")
        self.params["n_components"] = (k, True, param_value("n_components", k, 2, 0))
        kwargs = {"n_components": self.params["n_components"][2], "max_iter": 3,
                  "random_state": 0}
        if kind == "gaussian":
            ct = data.draw(st.sampled_from(START_CT), label="covariance_types")
            self.params["covariance_types"] = (ct, True, param_value("covariance_types", ct,
                                                                     2, 0))
            kwargs["covariance_types"] = self.params["covariance_types"][2]
        LOG.write(f"{self.cls.__name__}(**{short(kwargs)})")
        self.est = self.cls(**kwargs)
        table = dict(own, **passed)
        for name in data.draw(st.lists(st.sampled_from(sorted(table)), max_size=3,
                                       unique=True), label="params"):
            marker, valid = data.draw(param_choices(table, name), label=name)
            self.set_param(name, marker, valid, seed=len(self.params))
        self.check_unfitted()

    def check_unfitted(self):
        """Every method of an unfitted selection raises ValueError (NotFittedError)."""
        if self.kind == "gaussian":
            args, kw = (np.random.default_rng(0).normal(size=(6, 2)),), {}
        else:
            args, kw = (np.random.default_rng(0).integers(0, 3, size=(6, 2)).astype(float),), \
                {"trials": 3}
        methods = GAUSS_QUERIES if self.kind == "gaussian" else QUERIES
        for m in methods + ["sample"]:
            a = () if m == "sample" else args
            k = kw if m != "impute" else {}
            out = attempt(f"unfitted.{m}", f"unfitted {self.cls.__name__}.{m}", getattr(self.est, m),
                          *a, **k)
            if out.ok or not isinstance(out.exc, ValueError):
                fail("unfitted", f"unfitted {m}: {short(out.value) if out.ok else repr(out.exc)}")
            elif not isinstance(out.exc, fastem.NotFittedError):
                fail("unfitted-not-NotFittedError", f"unfitted {m} raised {out.exc!r}")

    def set_param(self, name, marker, valid, seed):
        v = param_value(name, marker, self.d_now(), seed)
        self.params[name] = (marker, valid, v)
        if isinstance(v, (np.ndarray, list, tuple)):
            self.kept.append((name, v, snap(v)))
        self.apply({name: v})

    def apply(self, values):
        what = f"{self.cls.__name__}.set_params(**{short(values)})"
        out = attempt("set_params", what, self.est.set_params, **values)
        if not out.ok:  # the selection only stores: validation is the fit's
            fail("set_params-raised", f"{what} raised {out.exc!r}")
            return
        if out.value is not self.est:
            fail("set_params-not-self", f"{what} returned {short(out.value)}")
        got = self.est.get_params()
        for name, v in values.items():
            if name not in got or got[name] is not v:
                fail("get_params", f"after {what}: get_params()[{name!r}] is "
                                   f"{short(got.get(name, '(missing)'))}")

    def trials_kw(self, tb, explicit):
        if self.kind != "binomial" or not explicit:
            return {}
        return {"trials": tb.obj}

    def pair_valid_with_param(self, xb, trials):
        """Validity of counts X with the trials a call without trials= uses."""
        if xb.valid is None:
            return None
        T = trials_canon(trials)
        if xb.canon is None or T is None:
            return False
        return counts_valid(xb.canon, T)

    def draw_data(self, data, d, trials_param):
        """(X Built, trials Built or None, trials keywords, validity) of a data call."""
        if self.kind == "gaussian":
            xb = build_gauss(data.draw(gauss_inputs(d), label="X"), self.tmpdir)
            return xb, None, {}, xb.valid
        xb, tb, valid = build_counts(data.draw(count_inputs(d), label="X"), self.tmpdir)
        explicit = data.draw(st.sampled_from([True] * 3 + [False]), label="trials=")
        if not explicit:
            valid = self.pair_valid_with_param(xb, trials_param)
        return xb, tb, self.trials_kw(tb, explicit), valid

    def width(self, xb):
        c = xb.canon
        if c is None:
            return None
        if self.kind == "binomial" and c.ndim == 1:
            return 1
        return c.shape[1] if c.ndim == 2 else None

    def fit_expectation(self, xb, valid, wb):
        """('invalid' | 'either' | 'valid', why)."""
        if self.bad_names:
            return "invalid", f"parameter names {sorted(self.bad_names)}"
        bad = sorted(n for n, (_, ok, _) in self.params.items() if ok is False)
        if bad:
            return "invalid", f"bad {bad}"
        if valid is False or wb.valid is False:
            return "invalid", "bad input"
        if valid is None or wb.valid is None:
            return "either", "unknown input"
        n_pos = positive_rows(wb, xb.canon.shape[0])
        if not any(n_pos >= self.need(k) for k, _ in self.grid()):
            return "invalid", "too few rows for every candidate"
        return "valid", "valid"

    # ------------------------------------------------------------------ checks
    def check_fitted(self, what, info, xb, kw, wb):
        """The table and the choice; with a known valid input (xb not None) also the
        criteria against the data."""
        sel = self.est
        best = getattr(sel, "best_estimator_", None)
        if type(best) is not self.model or not hasattr(best, "weights_"):
            fail("best-not-fitted", f"after {what}: best_estimator_ is {short(best)}")
            return
        grid, crit_name = info["grid"], info["criterion"]
        table = getattr(sel, "criteria_", None)
        cols = COLUMNS + (["covariance_type"] if self.kind == "gaussian" else [])
        if not isinstance(table, dict) or sorted(table) != sorted(cols):
            fail("criteria-columns", f"after {what}: criteria_ has "
                 f"{sorted(table) if isinstance(table, dict) else short(table)}, expected "
                 f"{sorted(cols)}")
            return
        m = len(grid)
        for name, col in table.items():
            if not isinstance(col, np.ndarray) or col.shape != (m,):
                fail("criteria-rows", f"after {what}: criteria_[{name!r}] is {short(col)}; "
                                      f"expected {m} rows (one per candidate of {grid})")
                return
        if [int(k) for k in table["n_components"]] != [k for k, _ in grid]:
            fail("criteria-grid", f"after {what}: n_components column "
                 f"{table['n_components']} for the grid {grid}")
        if self.kind == "gaussian" and list(table["covariance_type"]) != [c for _, c in grid]:
            fail("criteria-grid", f"after {what}: covariance_type column "
                 f"{table['covariance_type']} for the grid {grid}")
        values = np.asarray(table[crit_name], dtype=np.float64)
        finite = np.isfinite(values)
        bi = getattr(sel, "best_index_", None)
        if not finite.any():
            fail("best-without-finite", f"after {what}: no finite {crit_name} but a best "
                                        f"estimator: {table}")
            return
        want = int(np.flatnonzero(finite & (values == values[finite].min()))[0])
        if not _is_int(bi) or bi != want:
            fail("best_index_", f"after {what}: best_index_={bi!r} but the first lowest finite "
                                f"{crit_name} is row {want}: {values}")
            return
        k_best, ct_best = grid[bi]
        want_params = {"n_components": k_best}
        if self.kind == "gaussian":
            want_params["covariance_type"] = ct_best
        if sel.best_params_ != want_params:
            fail("best_params_", f"after {what}: best_params_={sel.best_params_}, row {bi} of "
                                 f"the grid is {want_params}")
        mine = {"n_components": best.n_components}
        if self.kind == "gaussian":
            mine["covariance_type"] = best.covariance_type
        if sel.best_params_ != mine:
            fail("best_params_-not-best", f"after {what}: best_params_={sel.best_params_} but "
                                          f"best_estimator_ has {mine}")
        if table["error"][bi] is not None:
            fail("best-failed", f"after {what}: the best row {bi} failed: {table['error'][bi]}")
        if not (_is_int(sel.n_features_in_) and sel.n_features_in_ == best.n_features_in_):
            fail("n_features_in_", f"after {what}: n_features_in_={sel.n_features_in_!r}, the "
                                   f"best estimator's {best.n_features_in_!r}")
        # what the selection passes on reaches the candidates
        given = best.get_params()
        for name in tables(self.kind)[1]:
            if name in info["passed"] and snap(given[name]) != info["passed"][name]:
                fail("not-passed-on", f"after {what}: best_estimator_.{name} = "
                                      f"{short(given[name])}, the selection's {name} differs")
        if given["n_init"] != info["n_init"]:
            fail("not-passed-on", f"after {what}: best_estimator_.n_init={given['n_init']!r}")
        if _is_int(info["random_state"]) and given["random_state"] != info["random_state"]:
            fail("not-passed-on", f"after {what}: best_estimator_.random_state="
                                  f"{given['random_state']!r}, the selection's "
                                  f"{info['random_state']!r}")
        # failed candidates: NaN and a reason; the others: their numbers
        for i, (k, ct) in enumerate(grid):
            err = table["error"][i]
            row = {c: table[c][i] for c in ("log_likelihood", "n_parameters", "bic", "aic", "icl")}
            if err is not None:
                STATS[f"selection candidate failed: {str(err)[:70]}"] += 1
                if not (isinstance(err, str) and err):
                    fail("criteria-error", f"after {what}: row {i} error={err!r}")
                if not all(np.isnan(float(v)) for v in row.values()) or table["converged"][i] \
                        or table["n_iter"][i] != 0:
                    fail("criteria-failed-row", f"after {what}: failed row {i} ({err}) has "
                         f"{row}, converged={table['converged'][i]}, n_iter={table['n_iter'][i]}")
                continue
            n_iter = table["n_iter"][i]
            if not (_is_int(n_iter) and 0 <= n_iter <= max(info["max_iter"], 0)):
                fail("criteria-n_iter", f"after {what}: row {i} n_iter={n_iter!r}, max_iter="
                                        f"{info['max_iter']}")
            if not isinstance(table["converged"][i], (bool, np.bool_)):
                fail("criteria-converged", f"after {what}: row {i} converged="
                                           f"{table['converged'][i]!r}")
            if xb is None:
                continue
            if not all(np.isfinite(float(v)) for v in row.values()):
                fail("criteria-nonfinite", f"after {what}: row {i} ({k}, {ct}) fitted but has "
                                           f"{row}")
                continue
            ll, p = float(row["log_likelihood"]), float(row["n_parameters"])
            n = xb.canon.shape[0] if wb.canon is None else float(
                wb.canon.astype(np.float64).sum())
            tol = 1e-9 * (abs(ll) + abs(p * np.log(n)) + 1.0)
            if abs(row["aic"] - (-2 * ll + 2 * p)) > tol or abs(
                    row["bic"] - (-2 * ll + p * np.log(n))) > tol or row["icl"] < row["bic"] - tol:
                fail("criteria-formula", f"after {what}: row {i} {row} with n={n}")
        if xb is None:
            return
        for i, (k, _) in enumerate(grid):
            if positive_rows(wb, xb.canon.shape[0]) < self.need(k) and table["error"][i] is None:
                fail("criteria-too-few-rows", f"after {what}: row {i} ({k} components) has no "
                     f"error but only {positive_rows(wb, xb.canon.shape[0])} rows of positive "
                     "weight")
        # the best row's numbers are its estimator's on the data
        out = attempt("best.score_samples", f"best_estimator_.score_samples after {what}",
                      best.score_samples, xb.obj, **kw)
        if not out.ok:
            fail("score_samples-rejected-valid", f"after {what}: best_estimator_.score_samples "
                                                 f"of the fitted data raised {out.exc!r}")
            return
        ll = np.asarray(out.value, dtype=np.float64)
        w = None if wb.canon is None else wb.canon.astype(np.float64)
        total = float(ll.sum()) if w is None else float(w[w > 0] @ ll[w > 0])
        rel = 1e-5 if xb.canon.dtype == np.float32 else 1e-9
        got = float(table["log_likelihood"][bi])
        if abs(got - total) > rel * (abs(total) + 1.0):
            fail("criteria-log_likelihood", f"after {what}: best row's log_likelihood {got!r}, "
                                            f"its estimator's score_samples sum to {total!r}")
        self.check_standalone(what, info, table, xb, kw, wb)
        if w is None:
            for c in CRITERIA:
                out = attempt(f"best.{c}", f"best_estimator_.{c} after {what}",
                              getattr(best, c), xb.obj, **kw)
                if not out.ok:
                    fail(f"{c}-rejected-valid", f"after {what}: best_estimator_.{c} of the "
                                                f"fitted data raised {out.exc!r}")
                    continue
                v = float(out.value)
                if abs(float(table[c][bi]) - v) > rel * (abs(v) + 1.0):
                    fail(f"criteria-{c}", f"after {what}: best row's {c} {table[c][bi]!r}, "
                                          f"best_estimator_.{c}(X) = {v!r}")

    def check_standalone(self, what, info, table, xb, kw, wb):
        """The best candidate is the model fitted on its own (bit-identical answers: the
        shared k-means initialisations change nothing), and a failed candidate fails on its
        own too."""
        kw = dict(kw, sample_weight=wb.obj) if wb.obj is not None else kw
        data_kw = {n: v for n, v in kw.items() if n != "sample_weight"}
        for i, (k, ct) in enumerate(info["grid"]):
            if i != self.est.best_index_ and table["error"][i] is None:
                continue
            alone = self.standalone(k, ct, info, xb, kw)
            if alone is None:
                return
            est, out = alone
            if table["error"][i] is not None:
                if out.ok:
                    fail("candidate-failed-but-fits", f"after {what}: row {i} ({k}, {ct}) "
                         f"failed with {table['error'][i]!r} but fits on its own")
                continue
            if not out.ok:
                fail("best-not-standalone", f"after {what}: the best candidate ({k}, {ct}) "
                                            f"raises {out.exc!r} on its own")
                continue
            mine = attempt("best.score_samples", f"best_estimator_.score_samples after {what}",
                           self.est.best_estimator_.score_samples, xb.obj, **data_kw).value
            theirs = attempt("standalone.score_samples", f"score_samples of ({k}, {ct}) alone",
                             est.score_samples, xb.obj, **data_kw).value
            if mine is None or theirs is None or not same(mine, theirs) or (
                    est.n_iter_ != self.est.best_estimator_.n_iter_):
                fail("best-not-standalone", f"after {what}: the best candidate ({k}, {ct}) "
                     f"fitted on its own scores {short(theirs)} (n_iter_ {est.n_iter_}), "
                     f"best_estimator_ {short(mine)} (n_iter_ "
                     f"{self.est.best_estimator_.n_iter_})")

    def model_params(self):
        """What the selection passes on to every candidate (its parameters but its own)."""
        own = tables(self.kind)[0]
        return {n: v for n, v in self.est.get_params().items() if n not in own}

    def standalone(self, k, ct, info, xb, kw):
        """The candidate (k, ct) fitted on its own, as the selection documents it: the
        model with the passed-on parameters, the selection's n_init and its int
        random_state (None unless that is an int: the fit is then not reproducible)."""
        if not _is_int(info["random_state"]):
            return None
        extra = {"covariance_type": ct} if self.kind == "gaussian" else {}
        est = self.model(k, n_init=info["n_init"], random_state=info["random_state"], **extra,
                         **info["model_params"])
        what = f"{self.model.__name__}({k}, {extra}) fitted on its own"
        return est, attempt("standalone.fit", what, est.fit, xb.obj, **kw)

    def check_refusal(self, what, exc, xb, kw, wb):
        """A valid fit may only be refused because every candidate fails (numerics, e.g.
        covariances beyond float32): then each candidate fails on its own too."""
        if not (isinstance(exc, ValueError) and "every candidate failed" in str(exc)):
            fail("valid-refused", f"{what} raised {exc!r}")
            return
        info = dict(random_state=self.est.random_state, n_init=self.est.n_init,
                    model_params=self.model_params())
        n_pos = positive_rows(wb, xb.canon.shape[0])
        for k, ct in self.grid():
            if n_pos < self.need(k):
                continue
            alone = self.standalone(k, ct, info, xb, kw)
            if alone is None:
                STATS["selection valid fit refused (seeds not reproducible)"] += 1
                return
            if alone[1].ok:
                fail("valid-refused", f"{what} raised {exc!r}, but the candidate "
                                      f"({k}, {ct}) fits on its own")
                return
        reason = str(exc).partition(": ")[2].partition(": ")[2][:70]
        STATS[f"selection valid fit refused, every candidate fails on its own too: {reason}"] += 1

    def query_both(self, method, xb, kw, valid):
        """``method`` on the live selection, on the best estimator of the copy frozen at the
        fit and on that copy: the same answers (or all raise); valid input answers, invalid
        input raises."""
        args = (xb.obj,)
        kw = {} if method == "impute" else kw
        kept = [("X", xb.obj, snap(xb.obj))] + [(n, v, snap(v)) for n, v in kw.items()]
        what = f"{self.cls.__name__}.{method}({xb!r}, {short(kw)}) [valid={valid}]"
        live = attempt(f"selection.{method}", what, getattr(self.est, method), *args, **kw)
        best = attempt(f"best.{method}", f"(best_estimator_) {what}",
                       getattr(self.frozen.best_estimator_, method), *args, **kw)
        frozen = attempt(f"frozen.{method}", f"(frozen copy) {what}",
                         getattr(self.frozen, method), *args, **kw)
        check_unchanged(what, kept)
        if valid is False and live.ok:
            fail(f"{method}-accepted-invalid", f"{what} returned {short(live.value)}")
        if valid is True and not live.ok:
            fail(f"{method}-rejected-valid", f"{what} raised {live.exc!r}")
        for other, who, key in ((best, "the fitted best_estimator_", "not-best"),
                                (frozen, "a copy frozen at the fit", "params-leak")):
            if live.ok != other.ok or (live.ok and not same(live.value, other.value)) or (
                    not live.ok and type(live.exc) is not type(other.exc)):
                fail(f"{method}-{key}", f"{what}: the selection gives "
                     f"{short(live.value) if live.ok else repr(live.exc)}, {who} "
                     f"{short(other.value) if other.ok else repr(other.exc)}")
        if not live.ok or valid is not True:
            return
        n = xb.canon.shape[0]
        k, d = len(self.frozen.best_estimator_.weights_), self.fit_info["d"]
        if method in ("score_samples", "score", "bic", "aic", "icl") and known_float32_overflow(
                self.frozen.best_estimator_, xb, live.value):
            STATS[f"known bug: float32 query overflows to inf ({method})"] += 1
            return
        if method == "impute":
            v = live.value
            if not (isinstance(v, np.ndarray) and v.shape == (n, d)):
                fail("impute-shape", f"{what} gave {short(v)}, expected ({n}, {d})")
            else:
                check_finite("impute-nan", what, v)
        else:
            check_query_result(method, live.value, n, k, d, "selection:")

    # ------------------------------------------------------------------ rules
    @initialize(kind=st.sampled_from(["gaussian", "binomial"]), data=st.data())
    def new(self, kind, data):
        self.new_selection(data, kind)

    @precondition(lambda self: self.bad_names)  # set_params cannot take a name back
    @rule(data=st.data())
    def replace(self, data):
        self.new_selection(data, data.draw(st.sampled_from(["gaussian", "binomial"]),
                                           label="kind"))

    @rule(data=st.data())
    def change_param(self, data):
        own, passed = tables(self.kind)
        if data.draw(st.sampled_from([False] * 14 + [True]), label="bad name"):
            name = data.draw(st.sampled_from(sorted(BAD_NAMES[self.kind])), label="name")
            self.bad_names.add(name)
            self.apply({name: BAD_NAMES[self.kind][name]})
            return
        table = dict(own, **passed)
        bad = sorted(n for n, (_, ok, _) in self.params.items() if ok is False)
        if bad and data.draw(st.sampled_from([True, True, False]), label="change a bad one"):
            name = data.draw(st.sampled_from(bad), label="name")
        else:
            name = data.draw(st.sampled_from(sorted(table)), label="name")
        marker, valid = data.draw(param_choices(table, name), label=name)
        self.set_param(name, marker, valid, seed=data.draw(st.integers(0, 99), label="seed"))

    @rule(data=st.data())
    def fit(self, data):
        trials_param = self.value("trials", 1)
        xb, tb, kw, valid = self.draw_data(data, self.d_now(), trials_param)
        n = xb.canon.shape[0] if xb.canon is not None and xb.canon.ndim >= 1 else 0
        wb = build_weights(data.draw(weight_inputs(), label="sample_weight"), n, self.tmpdir)
        expect, why = self.fit_expectation(xb, valid, wb)
        STATS[f"selection fit expected: {expect} ({why})"] += 1
        kept = [("X", xb.obj, snap(xb.obj))] + [(k, v, snap(v)) for k, v in kw.items()]
        if wb.obj is not None:
            kept.append(("sample_weight", wb.obj, snap(wb.obj)))
        self.kept.extend(kept)
        if wb.obj is not None:
            kw = dict(kw, sample_weight=wb.obj)
        before = fitted_state(self.est)
        what = (f"{self.cls.__name__}.fit({xb!r}, {short(kw)}) with "
                f"{short({n_: m for n_, (m, _, _) in self.params.items()}, 600)} [{expect}]")
        out = attempt("selection.fit", what, self.est.fit, xb.obj, **kw)
        check_unchanged(what, self.kept)
        if expect == "invalid" and out.ok:
            fail("invalid-accepted", f"{what} succeeded ({why})")
        if expect == "valid" and not out.ok:
            self.check_refusal(what, out.exc, xb, kw, wb)
        if not out.ok:  # a failed fit leaves the selection as it was
            if fitted_state(self.est) != before:
                fail("failed-fit-changed", f"{what} raised {out.exc!r} but changed the fitted "
                                           "attributes")
            return
        if out.value is not self.est:
            fail("fit-not-self", f"{what} returned {short(out.value)}")
        model_params = self.model_params()
        self.frozen = copy.deepcopy(self.est)
        self.fit_input = None
        d = self.est.n_features_in_ if expect != "valid" else self.width(xb)
        self.fit_info = dict(
            d=d, grid=self.grid(), criterion=self.est.criterion, n_init=self.est.n_init,
            random_state=self.est.random_state, max_iter=self.est.max_iter,
            trials=trials_param, model_params=model_params,
            passed={n_: snap(v) for n_, (_, _, v) in self.params.items()
                    if n_ in tables(self.kind)[1]})
        if expect != "valid":  # unknown input: the table and the choice still agree
            if self.fit_info["grid"] is not None:
                self.check_fitted(what, self.fit_info, None, None, wb)
            return
        if d != self.est.n_features_in_:
            fail("n_features_in_", f"after {what}: n_features_in_={self.est.n_features_in_!r} "
                                   f"for X of width {d}")
        data_kw = {k: v for k, v in kw.items() if k != "sample_weight"}
        self.fit_input = (xb, data_kw)
        self.check_fitted(what, self.fit_info, xb, data_kw, wb)
        for m in ("score_samples", "predict_proba", "predict"):
            self.query_both(m, xb, data_kw, True)

    @precondition(lambda self: self.frozen is not None)  # unfitted: check_unfitted
    @rule(data=st.data(), method=st.sampled_from(GAUSS_QUERIES))
    def query(self, data, method):
        if method == "impute" and self.kind != "gaussian":
            method = "predict"
        if self.fit_input is not None and data.draw(st.sampled_from([False] * 3 + [True]),
                                                    label="on the fitted data"):
            xb, kw = self.fit_input
            self.query_both(method, xb, kw, True)
            return
        xb, _, kw, valid = self.draw_data(data, self.d_now(), self.fit_info["trials"])
        if valid and self.width(xb) != self.fit_info["d"]:
            valid = False
        self.query_both(method, xb, kw, valid)

    @precondition(lambda self: self.frozen is not None)
    @rule(data=st.data())
    def sample(self, data):
        ok = data.draw(st.sampled_from([True] * 5 + [False]), label="n ok")
        n = data.draw(st.sampled_from([1, 5, np.int64(3)] if ok else [0, -1, 2.5, True, "3"]),
                      label="n")
        rs = data.draw(st.sampled_from([None, 0, 5, "bad"]), label="random_state")
        kwargs = {"random_state": rs}
        t_ok = True
        if self.kind == "binomial":
            d = self.fit_info["d"]
            tkind = data.draw(st.sampled_from(["omitted", "int", "vec_d", "zero", "frac",
                                               "shape"]), label="trials")
            if tkind == "omitted":
                T = trials_canon(self.fit_info["trials"])
                t_ok = bool(T is not None and np.all(np.isfinite(T)) and np.all(T >= 1)
                            and np.all(T == np.floor(T)) and T.shape in ((), (d,)))
            else:
                kwargs["trials"] = {"int": 4, "vec_d": np.arange(1, d + 1), "zero": 0,
                                    "frac": 2.5, "shape": np.ones((7, d))}[tkind]
                t_ok = tkind in ("int", "vec_d")
        kept = [(k, v, snap(v)) for k, v in kwargs.items() if isinstance(v, np.ndarray)]
        what = f"{self.cls.__name__}.sample({n!r}, **{short(kwargs)})"
        valid = ok and t_ok and rs != "bad"
        live = attempt("selection.sample", what, self.est.sample, n, **kwargs)
        best = attempt("best.sample", f"(best_estimator_) {what}",
                       self.frozen.best_estimator_.sample, n, **kwargs)
        check_unchanged(what, kept)
        if not valid and live.ok:
            fail("sample-accepted-invalid", f"{what} returned a sample")
        if valid and not live.ok:
            fail("sample-rejected-valid", f"{what} raised {live.exc!r}")
        if live.ok != best.ok or (live.ok and rs is not None and not same(live.value,
                                                                          best.value)):
            fail("sample-not-best", f"{what}: the selection and its best estimator differ")
        if not live.ok:
            return
        X, labels = live.value
        d, k = self.fit_info["d"], len(self.frozen.best_estimator_.weights_)
        if not (isinstance(X, np.ndarray) and X.shape == (int(n), d)):
            fail("sample-shape", f"{what}: X is {short(X)}, expected ({int(n)}, {d})")
        else:
            check_finite("sample-nan", what, X)
        if not (isinstance(labels, np.ndarray) and labels.shape == (int(n),)
                and labels.min() >= 0 and labels.max() < k):
            fail("sample-labels", f"{what}: labels {short(labels)} (k={k})")

    def probe_input(self):
        """(X Built, keywords) of a valid query: the fitted data, else a small fixed one."""
        if self.fit_input is not None:
            return self.fit_input
        d = self.fit_info["d"]
        if self.kind == "gaussian":
            X = gauss_base(1, 12, d, 2, 1.0, "none")
            return build_gauss_like(X), {}
        X = np.random.default_rng(1).integers(0, 3, size=(12, d)).astype(float)
        return build_gauss_like(X), {"trials": 2}

    @precondition(lambda self: self.frozen is not None)
    @rule()
    def save_load(self):
        self.saves += 1
        path = os.path.join(self.tmpdir, f"sel{self.saves}.json")
        what = f"{self.cls.__name__}.save({path!r}); fastem.load"
        out = attempt("selection.save", what, self.est.save, path)
        if not out.ok:
            fail("save-refused", f"{what}: save raised {out.exc!r}")
            return
        out = attempt("fastem.load", what, fastem.load, path)
        if not out.ok:
            fail("load-refused", f"{what}: load raised {out.exc!r}")
            return
        self.check_copy("save/load", out.value, exact_state=False)

    @rule()
    def pickle_roundtrip(self):
        what = f"pickle round trip of a {self.cls.__name__}"
        out = attempt("pickle", what, lambda: pickle.loads(pickle.dumps(self.est)))
        if not out.ok:
            fail("pickle-refused", f"{what} raised {out.exc!r}")
            return
        twin = out.value
        if est_state(twin)[0] != est_state(self.est)[0]:
            fail("pickle-params", f"{what}: parameters differ")
        if self.frozen is not None:
            self.check_copy("pickle", twin, exact_state=True)
        else:
            twin.set_params(n_components=1)  # the copy is independent of the original
            if self.est.get_params()["n_components"] is not self.params["n_components"][2]:
                fail("pickle-shared", f"{what}: set_params on the copy changed the original")

    def check_copy(self, how, twin, exact_state):
        """A copy of the fitted selection answers bit-identically."""
        sel = self.est
        if type(twin) is not type(sel):
            fail(f"{how}-class", f"{how} gave a {type(twin).__name__}")
            return
        if exact_state and fitted_state(twin) != fitted_state(sel):
            fail(f"{how}-state", f"{how}: the fitted attributes differ")
        for name in ("best_index_", "best_params_", "n_features_in_"):
            if getattr(twin, name, None) != getattr(sel, name):
                fail(f"{how}-{name}", f"{how}: {name} {getattr(twin, name, None)!r} != "
                                      f"{getattr(sel, name)!r}")
        a, b = getattr(twin, "criteria_", {}), sel.criteria_
        if sorted(a) != sorted(b) or not all(same(a[c], b[c]) for c in b):
            fail(f"{how}-criteria_", f"{how}: criteria_ {short(a)} != {short(b)}")
        if sorted(twin.get_params()) != sorted(sel.get_params()):
            fail(f"{how}-params", f"{how}: parameters {sorted(twin.get_params())} != "
                                  f"{sorted(sel.get_params())}")
        xb, kw = self.probe_input()
        for m in ("score_samples", "predict_proba", "predict"):
            mine = attempt(f"selection.{m}", f"{m} before {how}", getattr(sel, m), xb.obj, **kw)
            theirs = attempt(f"{how}.{m}", f"{m} after {how}", getattr(twin, m), xb.obj, **kw)
            if mine.ok != theirs.ok or (mine.ok and not same(mine.value, theirs.value)):
                fail(f"{how}-{m}", f"{how}: {m} gives "
                     f"{short(theirs.value) if theirs.ok else repr(theirs.exc)}, before "
                     f"{short(mine.value) if mine.ok else repr(mine.exc)}")

    @invariant()
    def fitted_state_is_the_fit(self):
        check_unchanged("an earlier call", self.kept)
        if self.frozen is not None and fitted_state(self.est) != fitted_state(self.frozen):
            fail("fitted-state-drift", "the fitted attributes changed without a successful fit")


def build_gauss_like(X):
    """A Built of a plain float64 array (valid)."""
    from fuzz_machine import Built

    return Built(X, X, True, "fixed")


def run(max_examples):
    from hypothesis.stateful import run_state_machine_as_test

    run_state_machine_as_test(SelectionMachine, settings=estimator_settings(max_examples))


if __name__ == "__main__":
    run(int(os.environ.get("FASTEM_FUZZ_EXAMPLES", "100")))
