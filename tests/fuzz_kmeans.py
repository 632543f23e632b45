"""Fuzzing fastem.KMeans: a hypothesis state machine of random call sequences.

The contract of fuzz_machine.py, for the k-means estimator: every call succeeds with
finite, correctly shaped results or raises ValueError / TypeError (never another
exception, a crash, a hang or a RuntimeWarning from fastem); a fit on valid input (finite
X of at least ``n_clusters`` rows of positive weight, valid parameters) succeeds and one
on invalid input raises; the fitted attributes are the truth (``set_params`` changes
nothing until the next fit, a failed fit leaves the model as it was); queries on data of
the wrong width raise; inputs are never modified.  Inputs are fuzz_machine's (dtypes,
layouts, containers, memmaps, scales, constant and duplicated rows, NaN / inf cells);
run through ``fuzz_machine.main(n, "kmeans")``, in a child process (tests/test_fuzz.py).
"""

import collections
import copy
import os
import shutil
import tempfile

import numpy as np
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from fastem import KMeans
from fuzz_machine import (
    LOG,
    STATS,
    attempt,
    build_gauss,
    build_weights,
    check_unchanged,
    estimator_settings,
    fail,
    gauss_inputs,
    positive_rows,
    short,
    snap,
    weight_inputs,
)

QUERIES = ["predict", "transform", "score"]

# (value, valid) per parameter; None validity: either outcome is acceptable
PARAMS = {
    "n_clusters": [(1, True), (2, True), (3, True), (4, True), (0, False), (-1, False),
                   (2.5, False), ("3", False), (None, False), (np.int64(2), True)],
    "n_init": [(1, True), (2, True), ("auto", True), (0, False), (1.5, False),
               ("Auto", False)],
    "algorithm": [("lloyd", True), ("elkan", True), ("full", False), (None, False)],
    "max_iter": [(1, True), (3, True), (10, True), (0, False), ("x", False)],
    "tol": [(0.0, True), (1e-4, True), (0.5, True), (-1.0, False), (float("nan"), False),
            ("x", False)],
    # arrays: judged at each fit against its n_clusters and width (init_valid)
    "init": [("k-means++", True), ("random", True), ("bogus", False), ("array", None),
             ("array-nan", None), ("array-wide", None)],
    "random_state": [(0, True), (None, True), (7, True), ("gen", True), ("x", False)],
}


def param_choices(name):
    """Mostly valid values (valid ones three times), so that runs reach fitted models."""
    ok = [p for p in PARAMS[name] if p[1] is not False]  # (None: judged at the fit)
    return st.sampled_from(ok * 3 + [p for p in PARAMS[name] if p[1] is False])


def param_value(name, v, k, d, seed):
    """The value to pass: arrays for the init markers, a Generator for "gen"."""
    if name == "random_state" and v == "gen":
        return np.random.default_rng(seed)
    if name != "init" or not isinstance(v, str) or not v.startswith("array"):
        return v
    rng = np.random.default_rng(seed)
    kk = k if isinstance(k, (int, np.integer)) and k >= 1 else 2
    a = rng.normal(size=(kk, d + (1 if v == "array-wide" else 0)))
    if v == "array-nan":
        a[0, 0] = np.nan
    return a


class KMeansMachine(RuleBasedStateMachine):
    """One KMeans at a time; ``self.frozen`` is a deep copy taken after the last
    successful fit."""

    def __init__(self):
        super().__init__()
        self.tmpdir = tempfile.mkdtemp(prefix="fastem-fuzz-km-")
        self.est = None
        self.frozen = None
        self.fit_d = None
        self.params = {}  # name -> (marker, valid)
        self.kept = collections.deque(maxlen=20)

    def teardown(self):
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    # ------------------------------------------------------------------ helpers
    def k(self):
        return self.params.get("n_clusters", (8, True))[0]

    def d_now(self):
        return self.fit_d or 2

    def init_valid(self, d):
        """Whether the init parameter is valid for data of width d (arrays are drawn for
        the width at the time they were set: another width makes them invalid)."""
        marker, valid = self.params.get("init", ("k-means++", True))
        if marker.startswith("array"):
            a = self.est.init
            return bool(a.shape == (self.k(), d) and np.all(np.isfinite(a)))
        return valid

    def set_param(self, name, marker, valid, seed):
        v = param_value(name, marker, self.k(), self.d_now(), seed)
        self.params[name] = (marker, valid)
        if isinstance(v, np.ndarray):
            self.kept.append((name, v, snap(v)))
        LOG.write(f"set_params({name}={short(v)})")
        out = attempt("set_params", f"KMeans.set_params({name}=...)", self.est.set_params,
                      **{name: v})
        if not out.ok:
            fail("set_params-raised", f"set_params({name}={short(v)}) raised {out.exc!r}")

    def check_fitted(self, est, n, d, X_dtype, max_iter):
        k = int(self.k())
        C = est.cluster_centers_
        if C.shape != (k, d) or not np.all(np.isfinite(C)):
            fail("bad-centres", f"cluster_centers_ {short(C)} for k={k}, d={d}")
        want = np.float32 if X_dtype == np.float32 else np.float64
        if C.dtype != want:
            fail("centres-dtype", f"cluster_centers_ dtype {C.dtype} for X of {X_dtype}")
        lab = est.labels_
        if lab.shape != (n,) or (n and (lab.min() < 0 or lab.max() >= k)):
            fail("bad-labels", f"labels_ {short(lab)} for n={n}, k={k}")
        if not (np.isfinite(est.inertia_) and est.inertia_ >= 0):
            fail("bad-inertia", f"inertia_ = {est.inertia_}")
        if not 1 <= est.n_iter_ <= max_iter:
            fail("bad-n_iter", f"n_iter_ = {est.n_iter_} with max_iter={max_iter}")

    def fit_expectation(self, xb, wb):
        k = self.k()
        if any(valid is False for _, valid in self.params.values()):
            return "invalid"
        if xb.valid is False or wb.valid is False:
            return "invalid"
        if xb.valid is None or wb.valid is None:
            return "either"
        X = xb.canon
        if not np.all(np.isfinite(X)):  # k-means has no missing values
            return "invalid"
        n, d = X.shape
        if not self.init_valid(d):
            return "invalid"
        # k rows (scikit-learn's check); seeding also needs k rows of positive weight
        seeded = not self.params.get("init", ("k-means++", True))[0].startswith("array")
        if n < k or (seeded and positive_rows(wb, n) < k):
            return "invalid"
        return "valid"

    # ------------------------------------------------------------------ rules
    @initialize(data=st.data())
    def new(self, data):
        self.params = {}
        self.est = KMeans(max_iter=3, random_state=0)
        self.params["max_iter"] = (3, True)
        self.params["random_state"] = (0, True)
        self.frozen = None
        self.fit_d = None
        k = data.draw(st.sampled_from([1, 2, 3]), label="n_clusters")
        self.set_param("n_clusters", k, True, seed=0)
        for name in data.draw(st.lists(st.sampled_from(sorted(PARAMS)), max_size=3,
                                       unique=True), label="params"):
            marker, valid = data.draw(param_choices(name), label=name)
            self.set_param(name, marker, valid, seed=len(self.params))
        for m in QUERIES:  # unfitted: ValueError
            X = np.zeros((3, 2))
            out = attempt(f"unfitted.{m}", f"unfitted KMeans.{m}", getattr(self.est, m), X)
            if out.ok or not isinstance(out.exc, ValueError):
                fail("unfitted", f"unfitted {m}: {out.value if out.ok else out.exc!r}")

    @rule(data=st.data())
    def change_param(self, data):
        name = data.draw(st.sampled_from(sorted(PARAMS)), label="name")
        marker, valid = data.draw(param_choices(name), label=name)
        self.set_param(name, marker, valid, seed=data.draw(st.integers(0, 99), label="seed"))

    @rule(data=st.data(), method=st.sampled_from(["fit", "fit_predict"]))
    def fit(self, data, method):
        xspec = data.draw(gauss_inputs(self.d_now()), label="X")
        xb = build_gauss(xspec, self.tmpdir)
        n = xb.canon.shape[0] if xb.canon is not None and xb.canon.ndim >= 1 else 0
        wb = build_weights(data.draw(weight_inputs(), label="sample_weight"), n, self.tmpdir)
        expect = self.fit_expectation(xb, wb)
        STATS[f"kmeans fit expected: {expect}"] += 1
        self.kept.append(("X", xb.obj, snap(xb.obj)))
        if wb.obj is not None:
            self.kept.append(("sample_weight", wb.obj, snap(wb.obj)))
        before = copy.deepcopy(self.est)
        out = attempt(f"kmeans.{method}", f"KMeans.{method}(X={xspec}, w={wb.spec})",
                      getattr(self.est, method), xb.obj, sample_weight=wb.obj)
        check_unchanged(f"KMeans.{method}", self.kept)
        if expect == "invalid" and out.ok:
            fail("invalid-accepted", f"{method} accepted {xspec} / {wb.spec} with "
                 f"{self.params}")
        if expect == "valid" and not out.ok:
            fail("valid-refused", f"{method} refused {xspec} / {wb.spec} with "
                 f"{self.params}: {out.exc!r}")
        if not out.ok:  # a failed fit leaves the model as it was
            for name in ("cluster_centers_", "labels_", "inertia_", "n_iter_"):
                if snap(getattr(before, name, None)) != snap(getattr(self.est, name, None)):
                    fail("failed-fit-changed", f"a failed {method} changed {name}")
            return
        X = xb.canon
        self.check_fitted(self.est, X.shape[0], X.shape[1], X.dtype,
                          int(self.params["max_iter"][0]))
        if method == "fit_predict" and snap(out.value) != snap(self.est.labels_):
            fail("fit_predict", "fit_predict's labels are not labels_")
        self.frozen = copy.deepcopy(self.est)
        self.fit_d = X.shape[1]

    @rule(data=st.data(), method=st.sampled_from(QUERIES))
    def query(self, data, method):
        if self.frozen is None:
            return
        xspec = data.draw(gauss_inputs(self.fit_d), label="X")
        xb = build_gauss(xspec, self.tmpdir)
        self.kept.append(("X", xb.obj, snap(xb.obj)))
        out = attempt(f"kmeans.{method}", f"KMeans.{method}(X={xspec})",
                      getattr(self.est, method), xb.obj)
        check_unchanged(f"KMeans.{method}", self.kept)
        X = xb.canon
        ok_input = (xb.valid is True and np.all(np.isfinite(X))
                    and X.shape[1] == self.fit_d)
        bad_input = xb.valid is False or (xb.valid and (X.shape[1] != self.fit_d
                                                         or not np.all(np.isfinite(X))))
        if bad_input and out.ok:
            fail(f"{method}-accepted", f"{method} accepted {xspec}")
        if ok_input and not out.ok:
            fail(f"{method}-refused", f"{method} refused {xspec}: {out.exc!r}")
        if not out.ok:
            return
        n, k = X.shape[0], self.frozen.cluster_centers_.shape[0]
        v = np.asarray(out.value) if method != "score" else out.value
        if method == "predict" and (v.shape != (n,) or (n and (v.min() < 0 or v.max() >= k))):
            fail("predict-bad", f"predict gave {short(v)}")
        if method == "transform" and (v.shape != (n, k) or not np.all(np.isfinite(v))
                                      or np.any(v < 0)):
            fail("transform-bad", f"transform gave {short(v)}")
        if method == "score" and not (np.isfinite(v) and v <= 0):
            fail("score-bad", f"score gave {v}")
        # the fitted attributes are the truth: a copy frozen at the fit answers the same
        ref = attempt(f"frozen.{method}", f"frozen KMeans.{method}", getattr(self.frozen, method),
                      xb.obj)
        if not ref.ok or snap(ref.value) != snap(out.value):
            fail("params-leak", f"{method} after set_params differs from the fitted model's")

    @invariant()
    def inputs_unchanged(self):
        check_unchanged("an earlier call", self.kept)


def run(max_examples):
    from hypothesis.stateful import run_state_machine_as_test

    run_state_machine_as_test(KMeansMachine, settings=estimator_settings(max_examples))


if __name__ == "__main__":
    run(int(os.environ.get("FASTEM_FUZZ_EXAMPLES", "100")))
