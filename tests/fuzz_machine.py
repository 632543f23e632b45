"""Fuzzing fastem: a hypothesis state machine over both estimators, and the public kernels.

Issue point 6.  Four fuzzers live here:

* ``EstimatorMachine``, a ``RuleBasedStateMachine`` that drives ``GaussianMixture`` and
  ``BinomialMixture`` through random sequences of fit / fit_predict / set_params /
  predict / predict_proba / score / score_samples / bic / aic / sample / warm starts, on
  inputs of random shapes (empty, 0-d, 1-d, 3-d), dtypes (bool, ints, float16/32/64,
  object, complex), layouts (Fortran, strided and reversed views, read-only, broadcast,
  memmap) and containers (lists, ragged lists, a DataFrame-like object).
* ``fuzz_kmeans.KMeansMachine``, the same contract for ``KMeans`` (``kmeans``);
* ``fuzz_selection.SelectionMachine``, the same contract for ``GaussianMixtureSelection``
  and ``BinomialMixtureSelection`` (``selection``);
* a kernel fuzz that calls every function of ``fastem.kernels`` with valid arguments
  and with wrong shapes, lengths, mode codes and value domains (``kernels``), and a
  fixed table of wrong dtypes / ranks / layouts (``kernel-types``: each distinct type
  signature costs a Numba compilation, so that table is kept short by default).

The contract checked everywhere: a call either succeeds with finite, correctly shaped
results or raises ValueError or TypeError -- never another exception, a crash or a hang.
On top of that (see the rules): the fitted attributes are the truth (``set_params``
changes nothing until the next fit), a failed fit leaves the estimator as it was, warm
starts that cannot continue raise ValueError, inputs are never modified, unfitted
estimators raise ValueError, a Gaussian model answers for complete rows the same beside a
row with a NaN cell as without (its two kernels agree), and the kernels never write outside the arrays they are
given (every array argument sits between guard bands that are checked after the call).

Run it in a child process (``tests/test_fuzz.py`` does): a segfault then fails a test
instead of killing pytest.  By hand, from the repository root::

    .venv/bin/python tests/fuzz_machine.py                    # everything, default sizes
    .venv/bin/python tests/fuzz_machine.py estimators 200     # 200 state-machine runs
    .venv/bin/python tests/fuzz_machine.py kernels 2000
    .venv/bin/python tests/fuzz_machine.py kmeans 200       # KMeans (tests/fuzz_kmeans.py)
    .venv/bin/python tests/fuzz_machine.py kernel-types all   # the whole type table (slow:
                                                              # one compilation per case)
    .venv/bin/python tests/fuzz_machine.py survey             # every kernel x mutation once,
                                                              # in child processes: a table
    .venv/bin/python tests/fuzz_machine.py survey-value       # (or survey-type) half of it

Environment: ``FASTEM_FUZZ_EXAMPLES`` (examples per fuzzer), ``FASTEM_FUZZ_STEPS`` (steps
per state-machine run), ``CI`` (derandomize, no example database),
``FASTEM_FUZZ_IGNORE`` (comma-separated failure keys or fnmatch patterns to tolerate, e.g.
while one bug is being fixed; every failure message starts with its ``[key]``),
``FASTEM_FUZZ_LOG`` (a file to which the last calls are written before they are made, so
that a parent can show them after a crash), ``FASTEM_FUZZ_TIMEOUT`` (seconds after which
the child dumps every thread's stack), ``FASTEM_FUZZ_DEBUG`` (print every fit that raised
although its inputs were valid: how often numerics, not validation, reject a fit).

Reproducing a failure: hypothesis prints the steps; every input is drawn as a small spec
(``GaussX(...)``, ``Counts(...)``, ``Weights(...)``, ``KernelCase(...)``) that the
functions below rebuild exactly, e.g.::

    import sys; sys.path.insert(0, "tests")
    from fuzz_machine import *
    X = build_gauss(GaussX(seed=0, n=5, d=2, ...), tmpdir="/tmp").obj
    run_kernel_case(KernelCase(...))
"""

import collections
import copy
import faulthandler
import fnmatch
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import warnings

import numpy as np
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

import fastem
import reference as ref
from fastem import BinomialMixture, GaussianMixture
from fastem import kernels as K

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FASTEM_DIR = os.path.dirname(os.path.abspath(fastem.__file__))

ALLOWED = (ValueError, TypeError)
CI = bool(os.environ.get("CI"))
IGNORED = [p.strip() for p in os.environ.get("FASTEM_FUZZ_IGNORE", "").split(",") if p.strip()]

#: Outcome counters, printed at the end of a run (they show what the fuzz reached).
STATS = collections.Counter()
#: Observations that are worth reporting but are not failures.
NOTES = set()


# --------------------------------------------------------------------------- failures
class FuzzFailure(AssertionError):
    """A broken contract.  Each key gets its own subclass, so that hypothesis reports
    (and shrinks) distinct failures separately instead of stopping at the first one."""

    key = "failure"


_FAILURE_TYPES = {}


def ignored(key):
    return any(fnmatch.fnmatchcase(key, pat) for pat in IGNORED)


def fail(key, message):
    """Raise the failure ``key`` (unless FASTEM_FUZZ_IGNORE tolerates it)."""
    if ignored(key):
        STATS[f"ignored failure {key}"] += 1
        return
    cls = _FAILURE_TYPES.get(key)
    if cls is None:
        name = "FuzzFailure_" + re.sub(r"\W+", "_", key)
        cls = _FAILURE_TYPES[key] = type(name, (FuzzFailure,), {"key": key})
    raise cls(f"[{key}] {message}")


# --------------------------------------------------------------------------- call log
class CallLog:
    """The last calls, rewritten to FASTEM_FUZZ_LOG before each one (survives a segfault)."""

    def __init__(self, path, keep=40):
        self.path = path
        self.lines = collections.deque(maxlen=keep)

    def write(self, line):
        self.lines.append(line)
        if self.path:
            with open(self.path, "w") as f:
                f.write("\n".join(self.lines) + "\n")


LOG = CallLog(os.environ.get("FASTEM_FUZZ_LOG"))


Outcome = collections.namedtuple("Outcome", "ok value exc")


def attempt(op, what, fn, *args, **kwargs):
    """Call ``fn``: an Outcome for a result or an allowed exception; a failure otherwise.

    Warnings are recorded: ConvergenceWarning and the like are ignored, but a
    RuntimeWarning raised from fastem's own files (NumPy overflow / invalid value) is a
    failure.
    """
    LOG.write(what)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with np.errstate(over="warn", invalid="warn", divide="warn", under="ignore"):
                value = fn(*args, **kwargs)
            out = Outcome(True, value, None)
        except ALLOWED as exc:
            out = Outcome(False, None, exc)
        except FuzzFailure:
            raise
        except Exception as exc:  # noqa: BLE001 - every other exception breaks the contract
            tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-6:])
            STATS[f"{op}: {type(exc).__name__}"] += 1
            fail(f"{op}:{type(exc).__name__}",
                 f"{what} raised {type(exc).__module__}.{type(exc).__name__}: {exc}\n{tb}")
            out = Outcome(False, None, exc)
    for w in caught:
        if issubclass(w.category, RuntimeWarning) and os.path.abspath(w.filename).startswith(
                FASTEM_DIR):
            fail(f"{op}:RuntimeWarning",
                 f"{what} warned {w.category.__name__} at "
                 f"{os.path.relpath(w.filename, FASTEM_DIR)}:{w.lineno}: {w.message}")
    STATS[f"{op}: {'ok' if out.ok else type(out.exc).__name__}"] += 1
    return out


# --------------------------------------------------------------------------- snapshots
class Frame:
    """DataFrame-like input: not an ndarray, only ``__array__`` plus shape and columns."""

    def __init__(self, values):
        self._values = values
        self.shape = np.shape(values)
        self.columns = list(range(self.shape[1])) if len(self.shape) == 2 else []

    def __array__(self, dtype=None, copy=None):
        a = np.asarray(self._values)
        if dtype is not None and a.dtype != dtype:
            return a.astype(dtype)
        return a.copy() if copy else a

    def __len__(self):
        return self.shape[0] if self.shape else 0

    def __repr__(self):
        return f"Frame({self._values!r})"


def snap(obj):
    """A comparable token of ``obj``'s content (bit-exact for arrays, NaN-safe)."""
    if isinstance(obj, Frame):
        return ("frame", snap(obj._values))
    if isinstance(obj, np.ndarray):
        a = np.array(obj, copy=True)
        body = repr(a.tolist()) if a.dtype.kind == "O" else a.tobytes()
        return ("nd", type(obj).__name__, a.dtype.str, a.shape, bool(obj.flags.writeable), body)
    if isinstance(obj, (list, tuple, dict)):
        return ("py", repr(obj))
    if isinstance(obj, np.random.Generator):
        return ("rng", repr(obj.bit_generator.state))
    if isinstance(obj, np.random.RandomState):
        st_ = obj.get_state()
        return ("rs", st_[0], st_[1].tobytes(), st_[2:])
    return ("obj", repr(obj))


def check_unchanged(what, kept):
    for name, obj, before in kept:
        if snap(obj) != before:
            fail("input-modified", f"{what} modified its argument {name}: {short(obj)}")


def short(obj, n=300):
    s = repr(obj)
    return s if len(s) <= n else s[:n] + "..."


# --------------------------------------------------------------------------- inputs
DTYPES = ["float64"] * 4 + ["float32"] * 3 + [
    "float16", "int64", "int32", "uint8", "bool", "object", "complex128"]
LAYOUTS = ["C"] * 6 + ["F", "strided", "reversed", "readonly", "broadcast", "memmap_r",
                       "memmap_c"]
CONTAINERS = ["array"] * 5 + ["list", "frame", "ragged"]
SHAPES = ["2d"] * 9 + ["1d", "0d", "3d", "rows0", "cols0"]

GaussX = collections.namedtuple(
    "GaussX", "seed n d blobs scale special dtype shape layout container")
Counts = collections.namedtuple(
    "Counts", "seed n d max_trials trials special dtype shape layout container "
              "t_dtype t_layout t_container")
Weights = collections.namedtuple("Weights", "seed kind scale dtype layout container")


class Built:
    """A built input: ``obj`` is passed to fastem; ``canon`` is what it means (float32
    stays float32, everything else float64, C order) or None; ``valid``: True, False or
    None (either outcome is acceptable)."""

    def __init__(self, obj, canon, valid, spec):
        self.obj, self.canon, self.valid, self.spec = obj, canon, valid, spec

    def __repr__(self):
        return f"Built({self.spec!r}, valid={self.valid})"


_counter = itertools.count()


def dress(a, dtype, layout, container, tmpdir):
    """The float64 array ``a`` as the given dtype, memory layout and container."""
    if dtype in ("bool",):
        a = a != 0
    elif dtype in ("int64", "int32", "uint8"):
        if not np.all(np.isfinite(a)):
            dtype = "float64"  # NaN/inf have no integer: keep the special values
        else:
            a = np.rint(np.clip(a, -2.0**31, 2.0**31 - 1)).astype(np.int64).astype(dtype)
    if dtype == "object":
        a = a.astype(object)
    elif dtype == "complex128":
        a = a.astype(np.complex128)
    elif dtype in ("float64", "float32", "float16"):
        with np.errstate(over="ignore"):
            a = a.astype(dtype)
    a = np.array(a, copy=False) if isinstance(a, np.ndarray) else np.array(a)  # 0-d stays an array
    if layout == "F":
        a = np.asfortranarray(a)
    elif layout == "strided" and a.ndim >= 1 and a.size:
        big = np.empty(tuple(2 * s for s in a.shape), dtype=a.dtype)
        big[...] = 7 if a.dtype.kind in "biu" else -12345.0 if a.dtype.kind == "f" else 7
        sl = tuple(slice(None, None, 2) for _ in a.shape)
        big[sl] = a
        a = big[sl]
    elif layout == "reversed" and a.ndim >= 1:
        a = a[::-1].copy()[::-1]
    elif layout == "readonly":
        a = a.copy()
        a.flags.writeable = False
    elif layout == "broadcast" and a.ndim >= 1 and a.shape[0] > 0:
        a = np.broadcast_to(a[:1], a.shape)
    elif layout.startswith("memmap") and a.size and a.ndim and a.dtype.kind != "O":
        path = os.path.join(tmpdir, f"mm{next(_counter)}.dat")
        m = np.memmap(path, dtype=a.dtype, mode="w+", shape=a.shape)
        m[...] = a
        m.flush()
        del m
        a = np.memmap(path, dtype=a.dtype, mode="r" if layout == "memmap_r" else "c",
                      shape=a.shape)
    elif layout.startswith("memmap"):
        a = a.copy()
        a.flags.writeable = False
    if container == "list":
        return a.tolist()
    if container == "frame":
        return Frame(a)
    if container == "ragged":
        rows = a.tolist() if a.ndim >= 1 else [a.tolist()]
        if rows and isinstance(rows[-1], list) and rows[-1]:
            rows[-1] = rows[-1][:-1]
        else:
            rows = rows + [[1.0, 2.0]]
        return rows
    return a


def canonical(obj):
    """(array, readable): what fastem should see; readable is None for complex data."""
    raw = obj._values if isinstance(obj, Frame) else obj
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = np.asarray(raw)
    except ValueError:  # ragged
        return None, False
    if arr.dtype.kind == "c":
        return None, None
    if arr.dtype.kind == "O":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            return None, False
    if arr.dtype.kind not in "biuf":
        return None, None
    dt = np.float32 if arr.dtype == np.float32 else np.float64
    return np.array(arr, dtype=dt, order="C"), True


def reshape_for(a, shape):
    if shape == "1d":
        return a[:, 0] if a.shape[1] else a.reshape(-1)
    if shape == "0d":
        return np.array(a.flat[0] if a.size else 1.0)
    if shape == "3d":
        return a[:, :, None]
    if shape == "rows0":
        return a[:0]
    if shape == "cols0":
        return a[:, :0]
    return a


def gauss_base(seed, n, d, blobs, scale, special):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, size=(blobs, d))
    X = (centres[rng.integers(0, blobs, n)] + rng.normal(size=(n, d))) * scale
    i, j = int(rng.integers(n)), int(rng.integers(d))
    if special == "nan":
        X[i, j] = np.nan
    elif special == "inf":
        X[i, j] = -np.inf if rng.random() < 0.5 else np.inf
    elif special == "const":
        X[:, j] = 3.0
    elif special == "dup":
        X[:] = X[i]
    elif special == "huge":
        X *= 1e20
    elif special == "offset":
        X += 1e6
    elif special == "tiny":
        X *= 1e-30
    return X


def build_gauss(spec, tmpdir):
    a = gauss_base(spec.seed, spec.n, spec.d, spec.blobs, spec.scale, spec.special)
    a = reshape_for(a, spec.shape)
    obj = dress(a, spec.dtype, spec.layout, spec.container, tmpdir)
    canon, readable = canonical(obj)
    if not readable:
        return Built(obj, None, readable, spec)
    # a NaN cell is a missing value (issue 13); infinity is not
    valid = bool(canon.ndim == 2 and canon.shape[0] > 0 and canon.shape[1] > 0
                 and not np.any(np.isinf(canon)))
    if valid and np.isnan(canon).all(axis=1).any():
        valid = None  # a row with no observed cell: fit refuses it, the rest take it
    return Built(obj, canon, valid, spec)


_TRIALS_SHAPES = {"row": "n1", "cell": "nd", "col": "1d", "vec_d": "d", "vec_n": "n",
                  "arr11": "11", "bad_rows": "bad_rows", "bad_cols": "bad_cols"}


def _trials_shape(kind, n, d):
    return {"n1": (n, 1), "nd": (n, d), "1d": (1, d), "d": (d,), "n": (n,), "11": (1, 1),
            "bad_rows": (n + 1, 1), "bad_cols": (1, d + 1)}[_TRIALS_SHAPES[kind]]


def build_counts(spec, tmpdir):
    """(X Built, trials Built or python number, pair validity)."""
    rng = np.random.default_rng(spec.seed)
    n, d = spec.n, (1 if spec.shape == "1d" else spec.d)
    scalar = spec.trials in ("int", "float", "npint")
    tshape = () if scalar else _trials_shape(spec.trials, n, d)
    T = rng.integers(1, spec.max_trials + 1, size=tshape).astype(np.float64)
    try:
        Tb = np.broadcast_to(T.reshape(T.shape if T.ndim != 1 or T.shape == (d,) else (n, 1)),
                             (n, d))
    except ValueError:
        Tb = np.full((n, d), float(spec.max_trials))
    p = rng.uniform(0.05, 0.95, size=(2, d))
    X = rng.binomial(Tb.astype(np.int64), p[rng.integers(0, 2, n)]).astype(np.float64)
    i, j = int(rng.integers(max(n, 1))), int(rng.integers(d))
    if n:
        if spec.special == "over":
            X[i, j] = Tb[i, j] + 1
        elif spec.special == "neg":
            X[i, j] = -1
        elif spec.special == "frac":
            X[i, j] += 0.5
        elif spec.special == "nan":
            X[i, j] = np.nan
        elif spec.special == "inf":
            X[i, j] = np.inf
    if T.size:
        if spec.special == "t0":
            T.flat[0] = 0
        elif spec.special == "tfrac":
            T.flat[0] += 0.5
        elif spec.special == "tnan":
            T.flat[0] = np.nan
        elif spec.special == "thuge":
            T.flat[0] = 2.0**60
    Xs = reshape_for(X, spec.shape)
    xobj = dress(Xs, spec.dtype, spec.layout, spec.container, tmpdir)
    xc, xr = canonical(xobj)
    if scalar:
        t = float(T)
        if spec.trials != "float" and np.isfinite(t) and t == np.floor(t):
            t = np.int64(t) if spec.trials == "npint" else int(t)
        tobj, tc, tr = t, np.asarray(float(t)), True
    else:
        tobj = dress(T, spec.t_dtype, spec.t_layout, spec.t_container, tmpdir)
        tc, tr = canonical(tobj)
    bx = Built(xobj, xc if xr else None, xr, spec)
    bt = Built(tobj, tc if tr else None, tr, spec)
    valid = counts_valid(xc if xr else None, tc if tr else None)
    if xr is None or tr is None:
        valid = None if valid is not False else False
    elif not (xr and tr):
        valid = False
    return bx, bt, valid


def counts_valid(Xc, Tc):
    """fastem's documented contract for counts and trials (True/False)."""
    if Xc is None or Tc is None:
        return False
    if Xc.ndim not in (1, 2) or Xc.size == 0 or Xc.shape[0] == 0:
        return False
    if Xc.ndim == 2 and Xc.shape[1] == 0:
        return False
    T = Tc
    if Xc.ndim == 1 and T.shape == (Xc.shape[0], 1):
        T = T.reshape(-1)
    try:
        shape = np.broadcast_shapes(T.shape, Xc.shape)
    except ValueError:
        return False
    if shape != Xc.shape:
        return False
    Tb = np.broadcast_to(T, Xc.shape).astype(np.float64)
    X = Xc.astype(np.float64)
    missing = np.isnan(X)  # a NaN count is a missing value (issue 13); infinity is not
    if np.any(np.isinf(X)) or not np.all(np.isfinite(Tb)):
        return False
    X = np.where(missing, 0.0, X)
    if np.any(X < 0) or np.any(X != np.floor(X)) or np.any(Tb < 1) or np.any(Tb != np.floor(Tb)):
        return False
    if np.any(Tb > 2.0**53):
        return None  # beyond float64's integers: either outcome
    if not np.all(X <= Tb):
        return False
    if X.ndim == 2 and missing.all(axis=1).any() or X.ndim == 1 and missing.any():
        return None  # a row with no observed count: fit refuses it, the rest take it
    return True


def build_weights(spec, n, tmpdir):
    """Built sample_weight (obj None for the default), with validity and positive rows."""
    if spec is None or spec.kind == "none":
        return Built(None, None, True, spec)
    rng = np.random.default_rng(spec.seed)
    w = rng.uniform(0.1, 2.0, size=n)
    kind = spec.kind
    if kind == "zeros" and n:
        w[rng.random(n) < 0.3] = 0.0
    elif kind == "ints":
        w = np.rint(w * 2)
    elif kind == "len":
        w = rng.uniform(0.1, 2.0, size=n + 1)
    elif kind == "neg" and n:
        w[0] = -0.5
    elif kind == "nan" and n:
        w[-1] = np.nan
    elif kind == "inf" and n:
        w[-1] = np.inf
    elif kind == "allzero":
        w[:] = 0.0
    elif kind == "2d":
        w = w[:, None]
    w = w * spec.scale
    obj = dress(w, spec.dtype, spec.layout, spec.container, tmpdir)
    canon, readable = canonical(obj)
    if not readable:
        return Built(obj, None, readable, spec)
    valid = bool(canon.ndim == 1 and canon.shape[0] == n and np.all(np.isfinite(canon))
                 and np.all(canon >= 0) and canon.max(initial=0) > 0)
    return Built(obj, canon, valid, spec)


def broken_axis(spec):
    """What makes an input spec invalid, in a few words (for failure keys)."""
    if spec is None:
        return ""
    out = []
    if getattr(spec, "shape", "2d") not in ("2d", "1d") or (
            isinstance(spec, GaussX) and spec.shape != "2d"):
        out.append(f"shape={spec.shape}")
    if getattr(spec, "special", "none") in ("nan", "inf", "over", "neg", "frac", "t0", "tfrac",
                                            "tnan", "thuge"):
        out.append(f"special={spec.special}")
    if "complex128" in (getattr(spec, "dtype", None), getattr(spec, "t_dtype", None)):
        out.append("complex")
    if getattr(spec, "container", None) == "ragged":
        out.append("ragged")
    if getattr(spec, "trials", "").startswith("bad_"):
        out.append(f"trials={spec.trials}")
    if isinstance(spec, Weights) and spec.kind in ("len", "neg", "nan", "inf", "allzero", "2d"):
        out.append(f"sample_weight={spec.kind}")
    return ",".join(out)


def positive_rows(wb, n):
    if wb.obj is None or wb.canon is None or not wb.valid:
        return n
    return int(np.count_nonzero(wb.canon))


# Most inputs are valid but unusual (dtype, layout, container); at most one axis is broken
# (None first, so that hypothesis shrinks towards a valid input).
GOOD_DTYPES = ["float64"] * 3 + ["float32"] * 2 + ["float16", "int64", "int32", "uint8", "bool",
                                                  "object"]
GOOD_CONTAINERS = ["array"] * 4 + ["list", "frame"]
N_ROWS = [10, 25, 40, 4, 3, 2, 1]  # up to 40 rows: tiny, so compilation dominates
BROKEN = [None] * 7 + ["special", "shape", "dtype", "container"]


@st.composite
def gauss_inputs(draw, d_hint=None):
    d = draw(st.sampled_from([d_hint] * 3 + [1, 2, 3])) if d_hint else draw(st.integers(1, 3))
    broken = draw(st.sampled_from(BROKEN))
    return GaussX(
        seed=draw(st.integers(0, 2**16)),
        n=draw(st.sampled_from(N_ROWS)),
        d=d,
        blobs=draw(st.integers(1, 3)),
        scale=draw(st.sampled_from([1.0, 1e-3, 1e3])),
        special=draw(st.sampled_from(["nan", "inf"] if broken == "special" else
                                     ["none"] * 6 + ["const", "dup", "huge", "offset", "tiny"])),
        dtype=draw(st.sampled_from(["complex128"] if broken == "dtype" else GOOD_DTYPES)),
        shape=draw(st.sampled_from(["1d", "0d", "3d", "rows0", "cols0"] if broken == "shape"
                                   else ["2d"])),
        layout=draw(st.sampled_from(LAYOUTS)),
        container=draw(st.sampled_from(["ragged"] if broken == "container" else GOOD_CONTAINERS)),
    )


@st.composite
def count_inputs(draw, d_hint=None):
    d = draw(st.sampled_from([d_hint] * 3 + [1, 2, 3])) if d_hint else draw(st.integers(1, 3))
    broken = draw(st.sampled_from(BROKEN + ["trials"]))
    trials = ["int"] * 3 + ["row", "cell", "col", "vec_d", "vec_n", "float", "npint", "arr11"]
    return Counts(
        seed=draw(st.integers(0, 2**16)),
        n=draw(st.sampled_from(N_ROWS)),
        d=d,
        max_trials=draw(st.sampled_from([1, 3, 10, 20])),
        trials=draw(st.sampled_from(["bad_rows", "bad_cols"] if broken == "trials" else trials)),
        special=draw(st.sampled_from(
            ["over", "neg", "frac", "nan", "inf", "t0", "tfrac", "tnan", "thuge"]
            if broken == "special" else ["none"])),
        dtype=draw(st.sampled_from(["complex128"] if broken == "dtype" else GOOD_DTYPES)),
        shape=draw(st.sampled_from(["0d", "3d", "rows0", "cols0"] if broken == "shape"
                                   else ["2d"] * 4 + ["1d"])),
        layout=draw(st.sampled_from(LAYOUTS)),
        container=draw(st.sampled_from(["ragged"] if broken == "container" else GOOD_CONTAINERS)),
        t_dtype=draw(st.sampled_from(["complex128"] if broken == "dtype" else
                                     ["float64", "int64", "float32", "int32", "object", "bool"])),
        t_layout=draw(st.sampled_from(["C"] * 3 + ["F", "readonly", "broadcast", "strided"])),
        t_container=draw(st.sampled_from(["array"] * 3 + ["list", "frame"])),
    )


@st.composite
def weight_inputs(draw):
    broken = draw(st.sampled_from([False] * 3 + [True]))
    kind = draw(st.sampled_from(["len", "neg", "nan", "inf", "allzero", "2d"] if broken else
                                ["none"] * 5 + ["good", "zeros", "ints"]))
    return Weights(
        seed=draw(st.integers(0, 2**16)),
        kind=kind,
        scale=draw(st.sampled_from([1.0] * 4 + [1e-20, 1e20, 1e-200, 1e200])),
        dtype=draw(st.sampled_from(["float64", "float32", "int64", "object", "bool"])),
        layout=draw(st.sampled_from(["C"] * 3 + ["F", "readonly", "strided", "memmap_r"])),
        container=draw(st.sampled_from(["array"] * 3 + ["list", "frame"])),
    )


# --------------------------------------------------------------------------- params
def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


COMMON_PARAMS = {
    # name: (good values, bad values)
    "n_components": ([1, 2, 3, np.int64(2)], [0, -1, 2.5, True, "2", None]),
    "mode": (["soft", "hard", "stochastic"], ["SOFT", 1, None]),
    "tol": ([1e-3, 0.0, 1e-1, 10.0], [-1.0, float("nan"), float("inf"), "0.1"]),
    "max_iter": ([0, 1, 2, 3, 5], [-1, 1.5]),
    "n_init": ([1, 2], [0, 1.0]),
    "random_state": ([0, 1, 7, "gen", "rs"], ["seed", 1.5, -1]),
    "warm_start": ([False, True, np.bool_(True)], [1, "yes"]),
    "verbose": ([0], [-1, "x"]),
}
GAUSS_PARAMS = dict(COMMON_PARAMS, **{
    "covariance_type": (["full", "tied", "diag", "spherical"], ["Full", "bogus", None]),
    "reg_covar": ([1e-6, 1e-4, 1e-2, 0.0], [-1e-3, float("nan")]),
    "init_params": (["kmeans", "k-means++", "random", "random_from_data"], ["kmeans++", None]),
    "verbose_interval": ([10, 1], [0]),
})
BINOM_PARAMS = dict(COMMON_PARAMS, **{
    "init_params": (["random", "random_from_data"], ["kmeans", None]),
    "fit_weights": ([True, False, np.bool_(False)], [1, "no"]),
})
INIT_NAMES = {"gaussian": ["weights_init", "means_init", "precisions_init"],
              "binomial": ["weights_init", "probs_init"]}


def param_value(v, seed=0):
    if v == "gen":
        return np.random.default_rng(seed)
    if v == "rs":
        return np.random.RandomState(seed)
    return v


@st.composite
def scalar_params(draw, kind, names=None, max_size=3):
    table = GAUSS_PARAMS if kind == "gaussian" else BINOM_PARAMS
    names = names or draw(st.lists(st.sampled_from(sorted(table)), min_size=1,
                                   max_size=max_size, unique=True))
    out = {}
    for name in names:
        good, bad = table[name]
        ok = draw(st.sampled_from([True] * 9 + [False]))
        v = draw(st.sampled_from(good if ok else bad))
        out[name] = (v, ok)
    return out


InitSpec = collections.namedtuple("InitSpec", "name seed k d ct variant container")


@st.composite
def init_specs(draw, kind, k, d, ct):
    name = draw(st.sampled_from(INIT_NAMES[kind]))
    variant = draw(st.sampled_from(["good"] * 6 + ["none", "shape", "bad"]))
    return InitSpec(name, draw(st.integers(0, 2**16)), k, d, ct, variant,
                    draw(st.sampled_from(["array", "array", "list", "readonly"])))


def build_init(spec):
    """An initial-parameter value from its spec (None clears it)."""
    if spec.variant == "none":
        return None
    rng = np.random.default_rng(spec.seed)
    k, d, ct = spec.k, spec.d, spec.ct
    if spec.variant == "shape":
        k, d = k + 1, d + (spec.seed % 2)
    if spec.name == "weights_init":
        v = rng.dirichlet(np.ones(k))
        if spec.variant == "bad":
            v = v * 1.5 if spec.seed % 2 else -v
    elif spec.name == "means_init":
        v = rng.normal(0, 4, size=(k, d))
        if spec.variant == "bad":
            v[0, 0] = np.nan
    elif spec.name == "probs_init":
        v = rng.uniform(0.05, 0.95, size=(k, d) if spec.seed % 2 else (k,))
        if spec.variant == "bad":
            v.flat[0] = 1.5 if spec.seed % 3 else np.nan
        elif spec.seed % 5 == 0:
            v.flat[0] = 0.0  # the edges are allowed (clipped)
    else:  # precisions_init
        ct = ct if ct in ("full", "tied", "diag", "spherical") else "full"
        s = rng.uniform(0.2, 3.0, size=k)
        if ct == "full":
            A = rng.normal(size=(k, d, d))
            v = A @ A.transpose(0, 2, 1) + np.eye(d) * s[:, None, None]
        elif ct == "tied":
            A = rng.normal(size=(d, d))
            v = A @ A.T + np.eye(d)
        elif ct == "diag":
            v = rng.uniform(0.2, 3.0, size=(k, d))
        else:
            v = s
        if spec.variant == "bad":
            if ct in ("full", "tied") and d > 1:
                v = v.copy()
                v.reshape(-1, d, d)[0, 0, 1] += 5.0  # not symmetric
            else:
                v = -v
    if spec.container == "list":
        return v.tolist()
    if spec.container == "readonly":
        v.flags.writeable = False
    return v


def init_ok(name, value, k, d, ct):
    """Is the initial parameter acceptable for a fit with k components on d features?"""
    if value is None:
        return True
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    if not np.all(np.isfinite(a)):
        return False
    if name == "weights_init":
        return a.shape == (k,) and np.all(a >= 0) and np.all(a <= 1) and abs(a.sum() - 1) < 1e-7
    if name == "means_init":
        return a.shape == (k, d)
    if name == "probs_init":
        return a.shape in ((k,), (k, d)) and np.all(a >= 0) and np.all(a <= 1)
    shape = {"full": (k, d, d), "tied": (d, d), "diag": (k, d), "spherical": (k,)}.get(ct)
    if a.shape != shape:
        return False
    if ct in ("diag", "spherical"):
        return bool(np.all(a > 0))
    mats = a.reshape(-1, d, d)
    return bool(all(np.allclose(m, m.T) and np.linalg.eigvalsh(m).min() > 1e-8 for m in mats))


# --------------------------------------------------------------------------- checks
def arr_info(a):
    if isinstance(a, np.ndarray):
        return f"ndarray{a.shape} {a.dtype}"
    return type(a).__name__


def check_finite(key, what, a):
    a = np.asarray(a)
    if a.dtype.kind not in "biuf" or not np.all(np.isfinite(a)):
        fail(key, f"{what} is not finite: {short(a)}")


def same(a, b):
    """Bit-for-bit equal results (scalars, arrays or tuples of them)."""
    if isinstance(a, tuple) or isinstance(b, tuple):
        return (isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b)
                and all(same(x, y) for x, y in zip(a, b)))
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and (
        a.tobytes() == b.tobytes() or np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))


def check_query_result(method, value, n, k, d_fit, key_prefix):
    """Shapes and values of a successful predict-type result for n rows, k components."""
    p = key_prefix
    if method == "predict":
        if not (isinstance(value, np.ndarray) and value.shape == (n,) and value.dtype.kind in "iu"):
            fail(f"{p}predict-shape", f"predict gave {arr_info(value)}, expected ({n},) ints")
        elif n and (value.min() < 0 or value.max() >= k):
            fail(f"{p}predict-range", f"labels {value} outside range({k})")
    elif method == "predict_proba":
        if not (isinstance(value, np.ndarray) and value.shape == (n, k)):
            fail(f"{p}predict_proba-shape",
                 f"predict_proba gave {arr_info(value)}, expected ({n}, {k}) (k = len(weights_))")
            return
        check_finite(f"{p}predict_proba-nan", "predict_proba", value)
        if np.any(value < -1e-12) or np.any(value > 1 + 1e-12):
            fail(f"{p}predict_proba-range", f"probabilities outside [0, 1]: {short(value)}")
        # float32 for float32 data (as scikit-learn): rows sum to 1 to float32 rounding
        if n and np.max(np.abs(value.sum(axis=1) - 1)) > (1e-6 if value.dtype == np.float32
                                                          else 1e-9):
            fail(f"{p}predict_proba-sum", f"rows sum to {value.sum(axis=1)}")
    elif method == "score_samples":
        if not (isinstance(value, np.ndarray) and value.shape == (n,)):
            fail(f"{p}score_samples-shape", f"score_samples gave {arr_info(value)}, expected ({n},)")
            return
        check_finite(f"{p}score_samples-nan", "score_samples", value)
    else:  # score, bic, aic
        if np.ndim(value) != 0:
            fail(f"{p}{method}-shape", f"{method} gave {arr_info(value)}, expected a scalar")
        check_finite(f"{p}{method}-nan", method, value)


# --------------------------------------------------------------------------- the machine
QUERIES = ["predict", "predict_proba", "score_samples", "score", "bic", "aic"]


class EstimatorMachine(RuleBasedStateMachine):
    """One estimator per run (Gaussian or binomial), driven through random calls.

    ``self.frozen`` is a deep copy taken right after the last successful fit: it is what
    the fitted model is.  The live estimator may have had set_params calls since; it must
    then answer like ``frozen`` or raise ValueError (never answer differently).
    """

    def __init__(self):
        super().__init__()
        self.tmpdir = tempfile.mkdtemp(prefix="fastem-fuzz-")
        self.kind = None
        self.est = None
        self.frozen = None
        self.fit_info = None
        self.changed = False
        self.bad = set()  # constructor parameters currently holding a bad value
        self.kept = collections.deque(maxlen=20)  # (name, obj, snapshot) of arrays handed over
        self.fit_input = None  # (X Built, trials Built) of the last successful fit

    def teardown(self):
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    # ---------------------------------------------------------------- helpers
    @property
    def cls(self):
        return GaussianMixture if self.kind == "gaussian" else BinomialMixture

    def fitted_attrs(self, est):
        return {name: snap(v) for name, v in vars(est).items()
                if name.endswith("_") and not name.startswith("__")}

    def d_hint(self):
        if self.fit_info:
            return self.fit_info["d"]
        return 2

    def k_param(self):
        k = self.est.n_components
        return int(k) if _is_int(k) and k >= 1 else None

    def ct_param(self):
        return getattr(self.est, "covariance_type", None)

    def draw_input(self, data, label, d_hint=None):
        """(X Built, trials Built or None, pair validity)."""
        if self.kind == "gaussian":
            spec = data.draw(gauss_inputs(d_hint), label=label)
            b = build_gauss(spec, self.tmpdir)
            return b, None, b.valid
        spec = data.draw(count_inputs(d_hint), label=label)
        return build_counts(spec, self.tmpdir)

    def n_rows(self, xb):
        if xb.canon is not None and xb.canon.ndim >= 1:
            return xb.canon.shape[0]
        return None

    def n_features(self, xb):
        c = xb.canon
        if c is None:
            return None
        if self.kind == "binomial" and c.ndim == 1:
            return 1
        return c.shape[1] if c.ndim == 2 else None

    def args_for(self, xb, tb, canon=False):
        """(positional args, keyword args) of a data method: trials is keyword-only."""
        if self.kind == "gaussian":
            return (xb.canon if canon else xb.obj,), {}
        return (xb.canon if canon else xb.obj,), {"trials": tb.canon if canon else tb.obj}

    def apply_params(self, est, params):
        """params: name -> (value, ok); returns the dict actually passed."""
        values = {}
        for name, (v, ok) in params.items():
            values[name] = param_value(v, seed=len(values))
            (self.bad.discard if ok else self.bad.add)(name)
        return values

    def new_estimator(self, kind, params, inits):
        self.kind = kind
        values = self.apply_params(None, params)
        values.setdefault("random_state", 0)
        values.setdefault("max_iter", 3)
        for spec in inits:
            v = build_init(spec)
            values[spec.name] = v
            if v is not None:
                self.kept.append((spec.name, v, snap(v)))
        LOG.write(f"{self.cls.__name__}(**{short(values, 2000)})")
        self.est = self.cls(**values)
        self.frozen = None
        self.fit_info = None
        self.fit_input = None
        self.changed = False
        self.check_unfitted()

    def check_unfitted(self):
        """Every method of an unfitted estimator raises ValueError (on valid input)."""
        if self.kind == "gaussian":
            X = np.random.default_rng(0).normal(size=(6, 2))
            args = (X,)
        else:
            X = np.random.default_rng(0).integers(0, 3, size=(6, 2)).astype(float)
            args = (X,)
        kw = {} if self.kind == "gaussian" else {"trials": 3}
        for m in QUERIES + ["sample"]:
            call_args = () if m == "sample" else args
            out = attempt(f"unfitted.{m}", f"unfitted {self.cls.__name__}().{m}(...)",
                          getattr(self.est, m), *call_args, **kw)
            if out.ok:
                fail("unfitted-accepted", f"unfitted {m} returned {short(out.value)}")
            elif not isinstance(out.exc, ValueError):
                fail("unfitted-not-ValueError",
                     f"unfitted {m} raised {type(out.exc).__name__}: {out.exc}")
            elif not isinstance(out.exc, AttributeError):
                NOTES.add(f"unfitted {self.cls.__name__} methods raise {type(out.exc).__name__}, "
                          "not also an AttributeError (sklearn's NotFittedError is both)")

    # ---------------------------------------------------------------- rules
    @initialize(kind=st.sampled_from(["gaussian", "binomial"]), data=st.data())
    def init(self, kind, data):
        params = data.draw(scalar_params(kind, max_size=4), label="params")
        inits = []
        if data.draw(st.sampled_from([False] * 3 + [True]), label="with inits"):
            k = params.get("n_components", (2 if kind == "binomial" else 1, True))[0]
            k = int(k) if _is_int(k) and k >= 1 else 2
            ct = params.get("covariance_type", ("full", True))[0]
            inits = data.draw(st.lists(init_specs(kind, k, 2, ct), max_size=2), label="inits")
        self.new_estimator(kind, params, inits)

    @rule(data=st.data())
    def replace_estimator(self, data):
        kind = data.draw(st.sampled_from(["gaussian", "binomial"]), label="kind")
        self.bad.clear()
        self.new_estimator(kind, data.draw(scalar_params(kind, max_size=4), label="params"), [])

    def fit_expectation(self, xb, tb, pair_valid, wb):
        """'invalid' (must raise), 'either', or 'mismatch' (a warm start that must raise)."""
        expect, why = self._fit_expectation(xb, tb, pair_valid, wb)
        STATS[f"fit expectation: {expect} ({why})"] += 1
        if why == "bad X/trials":
            why = f"X: {broken_axis(xb.spec) or 'value'}"
        elif why == "bad sample_weight":
            why = f"{broken_axis(wb.spec) or 'sample_weight value'}"
        self.why = why
        return expect

    def _fit_expectation(self, xb, tb, pair_valid, wb):
        k, ct = self.k_param(), self.ct_param()
        d = self.n_features(xb)
        n_pos = positive_rows(wb, self.n_rows(xb) or 0)
        need = max(2, k or 1) if self.kind == "gaussian" else (k or 1)
        if self.bad or k is None:
            return "invalid", f"bad parameter {sorted(self.bad) or ['n_components']}"
        if pair_valid is False:
            return "invalid", "bad X/trials"
        if wb.valid is False:
            return "invalid", "bad sample_weight"
        if pair_valid is None or wb.valid is None:
            return "either", "unknown input"
        if n_pos < need:
            return "invalid", "too few rows"
        for name in INIT_NAMES[self.kind]:
            if not init_ok(name, getattr(self.est, name), k, d, ct):
                return "invalid", f"{name} does not fit"
        ws = self.est.warm_start
        if self.frozen is not None and isinstance(ws, (bool, np.bool_)) and bool(ws):
            fi = self.fit_info
            if k != fi["k"] or d != fi["d"] or (self.kind == "gaussian" and ct != fi["ct"]):
                return "mismatch", "warm start"
        return "either", "valid"

    def do_fit(self, data, method):
        xb, tb, pair_valid = self.draw_input(data, "X", self.d_hint())
        n = self.n_rows(xb) or 0
        wspec = data.draw(weight_inputs(), label="sample_weight")
        wb = build_weights(wspec, n, self.tmpdir)
        expect = self.fit_expectation(xb, tb, pair_valid, wb)
        args, kwargs = self.args_for(xb, tb)
        if wb.obj is not None:
            kwargs["sample_weight"] = wb.obj
        kept = [("X", xb.obj, snap(xb.obj))]
        if tb is not None:
            kept.append(("trials", tb.obj, snap(tb.obj)))
        if wb.obj is not None:
            kept.append(("sample_weight", wb.obj, snap(wb.obj)))
        before = self.fitted_attrs(self.est)
        k, ct = self.k_param(), self.ct_param()
        what = f"{self.cls.__name__}.{method}({xb!r}, {tb!r}, sample_weight={wb!r}) [{expect}]"
        out = attempt(method, what, getattr(self.est, method), *args, **kwargs)
        STATS[f"{method} [{expect}]: {'ok' if out.ok else type(out.exc).__name__}"] += 1
        if not out.ok and expect == "either" and os.environ.get("FASTEM_FUZZ_DEBUG"):
            print(f"DEBUG {what}\n   -> {out.exc!r}", flush=True)
        check_unchanged(what, kept)
        check_unchanged(f"{what} (earlier arguments)", self.kept)
        if not out.ok:
            if self.fitted_attrs(self.est) != before:
                changed = sorted(n for n in set(before) | set(self.fitted_attrs(self.est))
                                 if before.get(n) != self.fitted_attrs(self.est).get(n))
                fail("failed-fit-changed-state",
                     f"{what} raised {type(out.exc).__name__}: {out.exc}\nbut changed the "
                     f"fitted attributes {changed}")
            return
        # success: whatever is checked below, this is now the fitted model
        previous = self.fit_info
        self.frozen = copy.deepcopy(self.est)
        self.changed = False
        self.fit_input = None
        if expect == "invalid" or expect == "mismatch" or xb.canon is None or (
                pair_valid is not True):
            # nothing to compare with: follow what the estimator says it fitted
            w = getattr(self.est, "weights_", None)
            self.fit_info = dict(k=len(w) if w is not None else k,
                                 d=getattr(self.est, "n_features_in_", None), ct=ct,
                                 dtype=None, max_iter=None, mode=None)
        if expect == "invalid":
            fail(f"fit-accepted-invalid({self.why})", f"{what} succeeded; expected ValueError")
            return
        if expect == "mismatch":
            fail("warm-start-mismatch-accepted",
                 f"{what} succeeded with warm_start=True although the previous fit had "
                 f"{previous} and this one asks for n_components={k}, "
                 f"covariance_type={ct}, d={self.n_features(xb)}")
            return
        if method == "fit" and out.value is not self.est:
            fail("fit-not-self", f"{what} returned {short(out.value)}, not self")
        if xb.canon is None or pair_valid is not True:
            NOTES.add(f"{self.cls.__name__}.fit accepted {xb!r} (complex or unknown input)")
            return
        d = self.n_features(xb)
        info = dict(k=k, d=d, ct=ct, dtype=xb.canon.dtype, max_iter=int(self.est.max_iter),
                    mode=self.est.mode)
        self.fit_info = info
        self.fit_input = (xb, tb)
        self.check_fitted_attributes(what, info)
        if method == "fit_predict":
            self.check_labels(what, out.value, xb, tb)
        # score_samples / predict_proba / predict on the data just fitted
        for m in ("score_samples", "predict_proba", "predict"):
            self.query_both(m, xb, tb, True)

    def check_labels(self, what, labels, xb, tb):
        n = self.n_rows(xb)
        check_query_result("predict", labels, n, self.fit_info["k"], self.fit_info["d"],
                           "fit_predict:")
        a, kw = self.args_for(xb, tb)
        again = attempt("predict", f"predict after {what}", self.est.predict, *a, **kw)
        if again.ok and not same(again.value, labels):
            fail("fit_predict-differs", f"{what}: fit_predict {labels} != predict {again.value}")

    def check_fitted_attributes(self, what, info):
        est, k, d, ct = self.est, info["k"], info["d"], info["ct"]
        if self.kind == "gaussian":
            cshape = {"full": (k, d, d), "tied": (d, d), "diag": (k, d), "spherical": (k,)}[ct]
            dt = info["dtype"]
            expected = {"weights_": (k,), "means_": (k, d), "covariances_": cshape,
                        "precisions_": cshape, "precisions_cholesky_": cshape}
        else:
            dt = np.float64
            expected = {"weights_": (k,), "probs_": (k, d)}
        for name, shape in expected.items():
            a = getattr(est, name, None)
            if not isinstance(a, np.ndarray) or a.shape != shape:
                fail("fitted-shape", f"after {what}: {name} is {arr_info(a)}, expected {shape}")
                continue
            if a.dtype != dt:
                fail("fitted-dtype", f"after {what}: {name} has dtype {a.dtype}, expected {dt}")
            check_finite("fitted-nan", f"after {what}: {name}", a)
        w = np.asarray(getattr(est, "weights_", np.ones(1)), dtype=np.float64)
        if np.any(w < 0) or abs(w.sum() - 1) > (1e-5 if dt == np.float32 else 1e-9):
            fail("fitted-weights", f"after {what}: weights_ {w} (sum {w.sum()!r})")
        if self.kind == "binomial":
            p = getattr(est, "probs_", None)
            if isinstance(p, np.ndarray) and p.size and (p.min() <= 0 or p.max() >= 1):
                fail("fitted-probs", f"after {what}: probs_ outside (0, 1): {p}")
        elif ct in ("diag", "spherical"):
            for name in ("covariances_", "precisions_"):
                a = getattr(est, name, None)
                if isinstance(a, np.ndarray) and np.any(a <= 0):
                    fail("fitted-cov-nonpositive", f"after {what}: {name} {a}")
        if getattr(est, "n_features_in_", None) != d:
            fail("fitted-n_features_in_",
                 f"after {what}: n_features_in_={getattr(est, 'n_features_in_', None)}, "
                 f"expected {d}")
        n_iter = getattr(est, "n_iter_", None)
        no_em = info["max_iter"] == 0  # the initialisation as it is, as scikit-learn
        if not (_is_int(n_iter) and (n_iter == 0 if no_em else 1 <= n_iter <= info["max_iter"])):
            fail("fitted-n_iter_", f"after {what}: n_iter_={n_iter!r}, max_iter={info['max_iter']}")
        lb = getattr(est, "lower_bounds_", None)
        if not isinstance(lb, list) or len(lb) != n_iter:
            fail("fitted-lower_bounds_", f"after {what}: lower_bounds_={short(lb)}, n_iter_={n_iter}")
        else:
            check_finite("fitted-nan", f"after {what}: lower_bounds_", np.array(lb, dtype=float))
        lower_bound = getattr(est, "lower_bound_", np.nan)
        if no_em:
            if not (isinstance(lower_bound, float) and lower_bound == -np.inf):
                fail("fitted-lower_bound_", f"after {what} with max_iter=0: lower_bound_="
                                            f"{lower_bound!r}, expected -inf")
        else:
            check_finite("fitted-nan", f"after {what}: lower_bound_",
                         np.asarray(lower_bound, dtype=float))
        if getattr(est, "converged_", None) not in (True, False):
            fail("fitted-converged_", f"after {what}: converged_={getattr(est, 'converged_', None)!r}")
        if no_em and getattr(est, "converged_", None):
            fail("fitted-converged_", f"after {what}: max_iter=0 reports converged_=True")
        if info["mode"] == "stochastic" and getattr(est, "converged_", None):
            fail("fitted-converged_", f"after {what}: stochastic EM reports converged_=True")

    @rule(data=st.data())
    def fit(self, data):
        self.do_fit(data, "fit")

    @rule(data=st.data())
    def fit_predict(self, data):
        self.do_fit(data, "fit_predict")

    @rule(data=st.data())
    def set_params(self, data):
        params = data.draw(scalar_params(self.kind), label="params")
        values = {}
        for name, (v, ok) in params.items():
            values[name] = param_value(v, seed=len(values))
        bad_name = data.draw(st.sampled_from([False] * 9 + [True]), label="bad name")
        if data.draw(st.sampled_from([False] * 3 + [True]), label="with init"):
            k = values.get("n_components", self.est.n_components)
            k = int(k) if _is_int(k) and k >= 1 else 2
            ct = values.get("covariance_type", getattr(self.est, "covariance_type", "full"))
            spec = data.draw(init_specs(self.kind, k, self.d_hint(), ct), label="init")
            values[spec.name] = build_init(spec)
        if bad_name:
            values["n_component"] = 2
        before = self.fitted_attrs(self.est)
        old = self.est.get_params()
        what = f"set_params(**{short(values, 1000)})"
        out = attempt("set_params", what, self.est.set_params, **values)
        if bad_name:
            if out.ok:
                fail("set_params-bad-name", f"{what} accepted the unknown name 'n_component'")
            elif self.est.get_params().keys() != old.keys() or any(
                    snap(v) != snap(old[n]) for n, v in self.est.get_params().items()):
                NOTES.add("set_params with one unknown name still applies the names before it")
                for n, v in self.est.get_params().items():  # follow what it did
                    if snap(v) != snap(old[n]):
                        self.changed = True
                        ok = params.get(n, (None, True))[1]
                        (self.bad.discard if ok else self.bad.add)(n)
            return
        if not out.ok:
            if all(ok for _, ok in params.values()):
                fail("set_params-rejected-good", f"{what} raised {out.exc!r}")
            return  # validating in set_params is fine (no change expected then)
        if out.value is not self.est:
            fail("set_params-not-self", f"{what} returned {short(out.value)}")
        for name, (v, ok) in params.items():
            (self.bad.discard if ok else self.bad.add)(name)
        for name in INIT_NAMES[self.kind]:
            if name in values and values[name] is not None:
                self.kept.append((name, values[name], snap(values[name])))
        if self.fitted_attrs(self.est) != before:
            fail("set_params-changed-fitted", f"{what} changed fitted attributes")
        self.changed = True

    def query_both(self, method, xb, tb, valid):
        """Call ``method`` on the live estimator, on ``frozen``, and on the canonical input."""
        args, kw = self.args_for(xb, tb)
        kept = [("X", xb.obj, snap(xb.obj))] + ([("trials", tb.obj, snap(tb.obj))] if tb else [])
        what = f"{self.cls.__name__}.{method}({xb!r}, {tb!r}) [valid={valid}]"
        live = attempt(method, what, getattr(self.est, method), *args, **kw)
        if self.frozen is None:
            check_unchanged(what, kept)
            if live.ok:
                fail("unfitted-accepted", f"{what} on an unfitted estimator returned "
                                          f"{short(live.value)}")
            elif valid is not False and not isinstance(live.exc, ValueError):
                fail("unfitted-not-ValueError", f"{what} raised {live.exc!r}")
            return
        frozen = attempt(method, f"(frozen copy) {what}", getattr(self.frozen, method), *args,
                         **kw)
        check_unchanged(what, kept)
        k, d = self.fit_info["k"], self.fit_info["d"]
        if valid is False:
            why = broken_axis(xb.spec) or "features"
            for name, out in (("live", live), ("frozen", frozen)):
                if out.ok:
                    fail(f"{method}-accepted-invalid({why})",
                         f"{what} ({name}) returned {short(out.value)}; expected ValueError")
            return
        if valid is True:
            if not frozen.ok:
                fail(f"{method}-rejected-valid",
                     f"{what} raised {type(frozen.exc).__name__}: {frozen.exc}")
                return
            n = self.n_rows(xb)
            check_query_result(method, frozen.value, n, k, d, "")
            ca, ckw = self.args_for(xb, tb, canon=True)
            canon = attempt(method, f"(frozen, canonical input) {what}",
                            getattr(self.frozen, method), *ca, **ckw)
            if not canon.ok:
                fail(f"{method}-rejected-canonical", f"{what} on the canonical input: {canon.exc!r}")
            elif not same(canon.value, frozen.value):
                fail(f"{method}-layout-dependent",
                     f"{what}: {short(frozen.value)}\nbut on the same values as a C-contiguous "
                     f"{xb.canon.dtype} array: {short(canon.value)}")
        if self.changed and valid:
            diff = sorted(n for n, v in self.est.get_params().items()
                          if snap(v) != snap(self.frozen.get_params()[n]))
            STATS[f"{method} after set_params of {diff[:2]}"] += 1
        self.compare_live(what, method, live, frozen)

    def compare_live(self, what, method, live, frozen):
        """The live estimator answers like the fitted model or raises ValueError."""
        if live.ok and frozen.ok:
            if not same(live.value, frozen.value):
                fail(f"{method}-follows-set_params",
                     f"{what}: after set_params the estimator answers {short(live.value)}, "
                     f"but the fitted model answers {short(frozen.value)}")
        elif live.ok and not frozen.ok:
            fail(f"{method}-follows-set_params",
                 f"{what}: after set_params the estimator answers {short(live.value)}, "
                 f"but the fitted model raises {frozen.exc!r}")
        elif frozen.ok and not live.ok:
            if not self.changed:
                fail(f"{method}-differs-from-copy",
                     f"{what}: raises {live.exc!r} but a deep copy of it answers")
            elif not isinstance(live.exc, ValueError):
                fail(f"{method}-after-set_params-not-ValueError",
                     f"{what}: after set_params raises {live.exc!r} (expected a result or "
                     "ValueError)")
            else:
                STATS[f"{method}: ValueError after set_params"] += 1

    @rule(data=st.data(), method=st.sampled_from(QUERIES))
    def query(self, data, method):
        if self.fit_input is not None and data.draw(st.sampled_from([False] * 3 + [True]),
                                                    label="on fitted data"):
            xb, tb = self.fit_input
            valid = True
        else:
            xb, tb, valid = self.draw_input(data, "X", self.d_hint())
            if valid and self.frozen is not None and self.n_features(xb) != self.fit_info["d"]:
                valid = False
        self.query_both(method, xb, tb, valid)

    @precondition(lambda self: self.kind == "gaussian" and self.frozen is not None)
    @rule(data=st.data())
    def beside_an_incomplete_row(self, data):
        """Complete rows score, and are assigned, exactly the same whether their call holds
        a row with a NaN cell or not; rows far from the model too (-inf alike)."""
        xb, _, valid = self.draw_input(data, "X", self.fit_info["d"])
        X = xb.canon
        if not valid or X is None or X.ndim != 2 or X.shape[1] != self.fit_info["d"] \
                or X.shape[0] == 0 or np.isnan(X).any():
            return
        hole = np.array(X[:1])
        hole[0, 0] = np.nan
        both = np.concatenate([X, hole])
        what = f"GaussianMixture on {arr_info(X)} beside a row with a NaN cell"
        for method in ("score_samples", "predict_proba", "predict"):
            alone = attempt(method, what, getattr(self.frozen, method), X)
            mixed = attempt(method, what, getattr(self.frozen, method), both)
            if alone.ok != mixed.ok:
                fail(f"{method}-incomplete-neighbour",
                     f"{what}: {method} alone {'answers' if alone.ok else 'raises'}, "
                     f"beside it {'answers' if mixed.ok else 'raises'} "
                     f"({alone.exc if not alone.ok else mixed.exc!r})")
                continue
            if not alone.ok:
                continue
            a, b = np.asarray(alone.value), np.asarray(mixed.value)[:X.shape[0]]
            # the complete rows of a call with NaN cells go through the complete-data
            # kernel too: the same numbers, not only close ones
            close = np.array_equal(a, b)
            if not close:
                fail(f"{method}-incomplete-neighbour",
                     f"{what}: {method} alone {short(a)}, beside it {short(b)}")

    @rule(data=st.data())
    def sample(self, data):
        good_n = [1, 5, np.int64(3), 17]
        ok = data.draw(st.sampled_from([True] * 5 + [False]), label="n ok")
        n = data.draw(st.sampled_from(good_n if ok else [0, -1, 2.5, True, "3"]), label="n")
        rs = data.draw(st.sampled_from([None, 0, 5, "bad"]), label="random_state")
        kwargs = {"random_state": rs}
        t_ok = True
        if self.kind == "binomial":
            nn = int(n) if ok else 1
            d = self.fit_info["d"] if self.fit_info else 1
            tkind = data.draw(st.sampled_from(["default", "int", "row", "cell", "vec_d",
                                               "zero", "frac", "shape", "nan"]), label="trials")
            tval = {"default": 1, "int": 4, "row": np.full((nn, 1), 3), "cell": np.full((nn, d), 2),
                    "vec_d": np.arange(1, d + 1), "zero": 0, "frac": 2.5,
                    "shape": np.ones((nn + 1, d)), "nan": np.full((nn, d), np.nan)}[tkind]
            t_ok = tkind in ("default", "int", "row", "cell", "vec_d")
            kwargs["trials"] = tval
        kept = [(k_, v, snap(v)) for k_, v in kwargs.items() if isinstance(v, np.ndarray)]
        what = f"{self.cls.__name__}.sample({n!r}, **{short(kwargs)})"
        valid = ok and t_ok and rs != "bad"
        live = attempt("sample", what, self.est.sample, n, **kwargs)
        if self.frozen is None:
            if live.ok:
                fail("unfitted-accepted", f"unfitted {what} returned {short(live.value)}")
            elif valid and not isinstance(live.exc, ValueError):
                fail("unfitted-not-ValueError", f"{what} raised {live.exc!r}")
            return
        frozen = attempt("sample", f"(frozen) {what}", self.frozen.sample, n, **kwargs)
        check_unchanged(what, kept)
        if not valid:
            if live.ok or frozen.ok:
                fail("sample-accepted-invalid", f"{what} returned a sample; expected ValueError")
            return
        if not frozen.ok:
            fail("sample-rejected-valid", f"{what} raised {frozen.exc!r}")
            return
        k, d = self.fit_info["k"], self.fit_info["d"]
        value = frozen.value
        if not (isinstance(value, tuple) and len(value) == 2):
            fail("sample-shape", f"{what} returned {short(value)}, expected (X, labels)")
            return
        X, labels = value
        n = int(n)
        if not (isinstance(X, np.ndarray) and X.shape == (n, d)):
            fail("sample-shape", f"{what}: X is {arr_info(X)}, expected ({n}, {d})")
        else:
            check_finite("sample-nan", f"{what}: X", X)
            if self.kind == "binomial":
                T = np.broadcast_to(np.asarray(kwargs["trials"], dtype=float), (n, d))
                if X.dtype.kind not in "iu" or np.any(X < 0) or np.any(X > T):
                    fail("sample-counts", f"{what}: counts {short(X)} outside [0, trials]")
        if not (isinstance(labels, np.ndarray) and labels.shape == (n,) and labels.dtype.kind in "iu"
                and labels.min() >= 0 and labels.max() < k):
            fail("sample-labels", f"{what}: labels {short(labels)} (k={k})")
        if rs is not None:  # explicit seed: the live estimator must agree with the fitted model
            self.compare_live(what, "sample", live, frozen)

    @precondition(lambda self: self.frozen is not None and self.fit_input is not None)
    @rule(data=st.data())
    def change_structure_then_query(self, data):
        """set_params of what shapes the model, then every method on the fitted data:
        each answers as the fitted model does, or raises ValueError."""
        fi = self.fit_info
        choices = {"n_components": [c for c in (1, 2, 3, 4) if c != fi["k"]],
                   "mode": ["soft", "hard", "stochastic"], "warm_start": [True, False]}
        if self.kind == "gaussian":
            choices["covariance_type"] = [c for c in GAUSS_PARAMS["covariance_type"][0]
                                          if c != fi["ct"]]
            choices["reg_covar"] = [1e-1, 0.0]
        else:
            choices["fit_weights"] = [True, False]
        names = data.draw(st.lists(st.sampled_from(sorted(choices)), min_size=1, max_size=3,
                                   unique=True), label="names")
        values = {n: data.draw(st.sampled_from(choices[n]), label=n) for n in names}
        out = attempt("set_params", f"set_params(**{values})", self.est.set_params, **values)
        if not out.ok:
            fail("set_params-rejected-good", f"set_params(**{values}) raised {out.exc!r}")
            return
        for n in names:
            self.bad.discard(n)
        self.changed = True
        xb, tb = self.fit_input
        for method in QUERIES:
            self.query_both(method, xb, tb, True)
        what = f"{self.cls.__name__}.sample(7, random_state=3) after set_params(**{values})"
        kwargs = {"random_state": 3} if self.kind == "gaussian" else {"random_state": 3,
                                                                      "trials": 4}
        live = attempt("sample", what, self.est.sample, 7, **kwargs)
        frozen = attempt("sample", f"(frozen) {what}", self.frozen.sample, 7, **kwargs)
        if not frozen.ok:
            fail("sample-rejected-valid", f"{what} (fitted model) raised {frozen.exc!r}")
        self.compare_live(what, "sample", live, frozen)

    @precondition(lambda self: self.frozen is not None)
    @rule(data=st.data(), change=st.sampled_from(["features", "n_components",
                                                  "covariance_type"]))
    def warm_start_mismatch(self, data, change):
        """warm_start=True and a fit that cannot continue the previous one: ValueError."""
        fi = self.fit_info
        if change == "covariance_type" and self.kind != "gaussian":
            change = "n_components"
        params = {"warm_start": True}
        d = fi["d"]
        if change == "features":
            d = fi["d"] + 1
            params["n_components"] = fi["k"]
            if self.kind == "gaussian":
                params["covariance_type"] = fi["ct"]
        elif change == "n_components":
            params["n_components"] = fi["k"] + 1
        else:
            others = [c for c in ("full", "tied", "diag", "spherical") if c != fi["ct"]]
            params["covariance_type"] = data.draw(st.sampled_from(others), label="ct")
            params["n_components"] = fi["k"]
        for name in INIT_NAMES[self.kind]:
            params[name] = None  # a mismatch in the inits is not what this rule is about
        table = GAUSS_PARAMS if self.kind == "gaussian" else BINOM_PARAMS
        for name in self.bad:  # nor another bad parameter: reset those to a good value
            params.setdefault(name, param_value(table[name][0][0]))
        self.est.set_params(**params)
        self.bad.clear()
        self.changed = True
        if self.kind == "gaussian":
            X = gauss_base(1, 20, d, 2, 1.0, "none")
            args = (X,)
        else:
            X = np.random.default_rng(1).integers(0, 4, size=(20, d)).astype(float)
            args = (X,)
        kw = {} if self.kind == "gaussian" else {"trials": 5}
        before = self.fitted_attrs(self.est)
        what = (f"warm start after fit({fi}) with {change} changed: set_params(**{params}); "
                f"fit(X of shape {X.shape})")
        out = attempt("fit", what, self.est.fit, *args, **kw)
        if out.ok:
            fail("warm-start-mismatch-accepted", f"{what} succeeded; expected ValueError")
        elif not isinstance(out.exc, ValueError):
            fail("warm-start-mismatch-not-ValueError", f"{what} raised {out.exc!r}")
        if self.fitted_attrs(self.est) != before:
            fail("failed-fit-changed-state", f"{what} raised but changed the fitted attributes")

    @invariant()
    def fitted_attributes_are_the_fitted_model(self):
        if self.frozen is not None and self.est is not None:
            if self.fitted_attrs(self.est) != self.fitted_attrs(self.frozen):
                diff = sorted(n for n, v in self.fitted_attrs(self.est).items()
                              if self.fitted_attrs(self.frozen).get(n) != v)
                fail("fitted-state-drift",
                     f"fitted attributes {diff} changed without a successful fit")


def estimator_settings(max_examples, steps=None):
    steps = steps or int(os.environ.get("FASTEM_FUZZ_STEPS", "15"))
    return settings(
        max_examples=max_examples,
        stateful_step_count=steps,
        deadline=None,
        derandomize=CI,
        database=None if CI else DirectoryBasedExampleDatabase(
            os.path.join(ROOT, ".hypothesis", "examples")),
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=True,
        print_blob=True,
    )


EstimatorMachine.TestCase.settings = estimator_settings(100)
TestEstimators = EstimatorMachine.TestCase


# --------------------------------------------------------------------------- kernels
GAUSS_TYPES = ["full", "tied", "diag", "spherical"]
KERNELS = (["binomial_log_density", "binomial_log_coef_sum", "binomial_em_step"]
           + [f"gaussian_log_density_{t}" for t in GAUSS_TYPES]
           + [f"gaussian_em_step_{t}" for t in GAUSS_TYPES])
MODE_NAMES = {K.SOFT: "soft", K.HARD: "hard", K.STOCHASTIC: "stochastic"}

# Value-level mutations keep every argument's Numba type (no new compilation).
#   invalid: must raise ValueError/TypeError; either: no crash, any allowed outcome;
#   succeed: must return (no reference to compare with); valid: compared with reference.py.
MUTATIONS = {
    "n0": "either", "k0": "either", "X_nan": "either",
    "means_cols+": "invalid", "means_cols-": "invalid", "means_rows+": "invalid",
    "means_rows-": "invalid",
    "prec_k+": "invalid", "prec_k-": "invalid", "prec_d+": "invalid", "prec_d-": "invalid",
    "prec_nonpos": "either",
    "weights_len+": "invalid", "weights_len-": "invalid", "weights_neg": "either",
    "w_len+": "invalid", "w_len-": "invalid", "w_neg": "either",
    "labels_len+": "invalid", "labels_len-": "invalid", "labels_entry": "valid",
    "mode_7": "invalid", "mode_-1": "invalid", "mode_3": "invalid", "mode_4": "invalid",
    "seed_neg": "succeed",
    "trials_rows+": "invalid", "trials_rows-": "invalid", "trials_cols+": "invalid",
    "probs_cols+": "invalid", "probs_cols-": "invalid", "probs_rows+": "invalid",
    "probs_rows-": "invalid", "probs_edge": "either", "x_over_t": "either",
}


def kernel_family(name):
    if name.startswith("binomial"):
        return "binomial"
    return name.rsplit("_", 1)[1]


def applicable_mutations(name):
    fam = kernel_family(name)
    step = "em_step" in name
    out = ["n0", "X_nan"]
    if name != "binomial_log_coef_sum":
        out.append("k0")
    if fam == "binomial":
        out += ["trials_rows+", "trials_rows-", "trials_cols+", "x_over_t"]
        if name != "binomial_log_coef_sum":
            out += ["probs_cols+", "probs_cols-", "probs_edge"]
        if step:
            out += ["probs_rows+", "probs_rows-"]
    else:
        out += ["means_cols+", "means_cols-", "prec_nonpos", "prec_d+", "prec_d-"]
        if step or fam != "tied":  # a tied log density takes k from means alone
            out += ["means_rows+", "means_rows-"]
        if fam != "tied":
            out += ["prec_k+", "prec_k-"]
        if fam == "spherical":
            out.remove("prec_d+")
            out.remove("prec_d-")
    if step or name == "binomial_log_coef_sum":
        out += ["w_len+", "w_len-", "w_neg"]
    if step:
        out += ["weights_len+", "weights_len-", "weights_neg", "labels_len+", "labels_len-",
                "labels_entry", "mode_7", "mode_-1", "mode_3", "mode_4", "seed_neg"]
    return out


_GROUPS = {"k": ("means_rows", "prec_k", "weights_len", "probs_rows", "k0"),
           "d": ("means_cols", "prec_d", "probs_cols", "trials_cols"),
           "n": ("w_len", "labels_len", "trials_rows", "n0"),
           "mode": ("mode_",)}


def mutation_group(m):
    for group, prefixes in _GROUPS.items():
        if m.startswith(prefixes):
            return group
    return m


KernelCase = collections.namedtuple(
    "KernelCase", "kernel n d k dtype mode seed weighted labelled trials iteration mutations")


@st.composite
def kernel_cases(draw, kernels=KERNELS):
    name = draw(st.sampled_from(kernels))
    # At most one mutation per dimension, so that two of them never cancel out (k+1 then
    # k-1, or means and precisions both with k+1 components).
    muts = draw(st.one_of(
        st.just(()),
        st.lists(st.sampled_from(applicable_mutations(name)), min_size=1, max_size=2,
                 unique_by=mutation_group).map(tuple)))
    return KernelCase(
        kernel=name,
        n=draw(st.integers(1, 40)),
        d=draw(st.integers(1, 3)),
        k=draw(st.integers(1, 3)),
        dtype=draw(st.sampled_from(["float64", "float32"])),
        mode=draw(st.sampled_from([K.SOFT, K.HARD, K.STOCHASTIC])),
        seed=draw(st.integers(0, 2**16)),
        weighted=draw(st.booleans()),
        labelled=draw(st.booleans()),
        trials=draw(st.sampled_from(["scalar", "row", "col", "cell"])),
        iteration=draw(st.integers(0, 5)),
        mutations=muts,
    )


def _spd(rng, k, d):
    A = rng.normal(size=(k, d, d))
    return A @ A.transpose(0, 2, 1) / max(d, 1) + np.eye(d)


def kernel_problem(case):
    """Arguments (a dict, in call order) and what is needed to check the result."""
    rng = np.random.default_rng(case.seed)
    muts = set(case.mutations)
    n = 0 if "n0" in muts else case.n
    d = case.d
    k = 0 if "k0" in muts else case.k
    dtype = np.dtype(case.dtype)
    fam = kernel_family(case.kernel)
    meta = {"n": n, "d": d, "k": k, "fam": fam}
    args = {}
    if fam == "binomial":
        tshape = {"scalar": (1, 1), "row": (n, 1), "col": (1, d), "cell": (n, d)}[case.trials]
        T = rng.integers(1, 12, size=tshape).astype(np.float64)
        probs = rng.uniform(0.05, 0.95, size=(k, d))
        X = rng.binomial(np.broadcast_to(T, (n, d)).astype(np.int64),
                         rng.uniform(0.1, 0.9, size=d)).astype(np.float64)
        if "x_over_t" in muts and n:
            X[0, 0] = np.broadcast_to(T, (n, d))[0, 0] + 1
        if "X_nan" in muts and n:
            X[-1, -1] = np.nan
        meta["T_full"] = np.broadcast_to(T, (n, d)).copy()
        if "trials_rows+" in muts:
            T = rng.integers(1, 12, size=(max(n, 1) + 1, T.shape[1])).astype(np.float64)
        if "trials_rows-" in muts:
            rows = 2 if n > 2 else max(n, 1) + 1
            T = rng.integers(1, 12, size=(rows, T.shape[1])).astype(np.float64)
        if "trials_cols+" in muts:
            T = rng.integers(1, 12, size=(T.shape[0], d + 1)).astype(np.float64)
        if "probs_edge" in muts and probs.size:
            probs[0, 0], probs[-1, -1] = 0.0, 1.0
        if "probs_cols+" in muts:
            probs = rng.uniform(0.05, 0.95, size=(k, d + 1))
        if "probs_cols-" in muts:
            probs = rng.uniform(0.05, 0.95, size=(k, d - 1))
        args["X"] = X.astype(dtype)
        args["trials"] = T.astype(dtype)
        meta["probs"] = probs
    else:
        ct = fam
        means = rng.normal(0, 3, size=(k, d))
        X = (means[rng.integers(0, k, n)] if k else np.zeros((n, d))) + rng.normal(size=(n, d))
        if "X_nan" in muts and n:
            X[-1, -1] = np.nan
        full = _spd(rng, k, d)
        cov = {"full": full, "tied": _spd(rng, 1, d)[0],
               "diag": rng.uniform(0.3, 3.0, size=(k, d)),
               "spherical": rng.uniform(0.3, 3.0, size=k)}[ct]
        pchol = np.ascontiguousarray(ref.precisions_from_covariances(cov, ct)[1]) if (
            k or ct == "tied") else np.zeros({"full": (0, d, d), "diag": (0, d),
                                               "spherical": (0,)}[ct])
        meta["cov"] = cov
        if "means_cols+" in muts:
            means = rng.normal(size=(k, d + 1))
        if "means_cols-" in muts:
            means = rng.normal(size=(k, d - 1))
        if "means_rows+" in muts:
            means = rng.normal(size=(k + 1, means.shape[1]))
        if "means_rows-" in muts:
            means = rng.normal(size=(max(k - 1, 0), means.shape[1]))
        if "prec_k+" in muts:
            pchol = np.concatenate([pchol, pchol[:1] if len(pchol) else np.ones_like(
                pchol, shape=(1,) + pchol.shape[1:])])
        if "prec_k-" in muts:
            pchol = pchol[:-1] if len(pchol) else pchol
        if "prec_d+" in muts or "prec_d-" in muts:
            dd = d + 1 if "prec_d+" in muts else d - 1
            pchol = {"full": np.broadcast_to(np.eye(dd), (k, dd, dd)).copy(), "tied": np.eye(dd),
                     "diag": np.ones((k, dd))}[ct]
        if "prec_nonpos" in muts and pchol.size:
            flat = pchol.reshape(-1)
            flat[0] = -flat[0] if flat[0] else -1.0
        args["X"] = X.astype(dtype)
        meta["means"] = means
        meta["pchol"] = pchol
    step = "em_step" in case.kernel
    if step or case.kernel == "binomial_log_coef_sum":
        w = rng.uniform(0, 2, size=n) if case.weighted else np.empty(0)
        if "w_len+" in muts:
            w = rng.uniform(0, 2, size=n + 1)
        if "w_len-" in muts:
            w = rng.uniform(0, 2, size=n - 1 if n > 1 else n + 2)
        if "w_neg" in muts and w.size:
            w[0] = -1.0
        args["sample_weight"] = w
    if step:
        weights = rng.dirichlet(np.ones(k)) if k else np.empty(0)
        if "weights_len+" in muts:
            weights = rng.dirichlet(np.ones(k + 1))
        if "weights_len-" in muts:
            weights = rng.dirichlet(np.ones(k - 1)) if k > 1 else np.empty(0)
        if "weights_neg" in muts and weights.size:
            weights[0] = -0.5
        args["weights"] = weights
    if fam == "binomial":
        probs = meta["probs"]
        if "probs_rows+" in muts:
            probs = rng.uniform(0.05, 0.95, size=(k + 1, probs.shape[1]))
        if "probs_rows-" in muts:
            probs = rng.uniform(0.05, 0.95, size=(max(k - 1, 0), probs.shape[1]))
        if case.kernel != "binomial_log_coef_sum":
            args["probs"] = probs
    else:
        args["means"] = meta["means"]
        args["prec_chol"] = meta["pchol"]
    if step:
        mode = case.mode
        for m in ("mode_7", "mode_-1", "mode_3", "mode_4"):
            if m in muts:
                mode = int(m.split("_")[1])
        args["mode"] = mode
        args["seed"] = -12345 if "seed_neg" in muts else case.seed
        args["iteration"] = -3 if "seed_neg" in muts else case.iteration
        labels = np.full(n, -1, dtype=np.int32) if case.labelled else np.empty(0, np.int32)
        if "labels_entry" in muts:
            labels = rng.integers(-3, k + 3, size=n).astype(np.int32)
        if "labels_len+" in muts:
            labels = np.full(n + 5, -1, dtype=np.int32)
        if "labels_len-" in muts:
            labels = np.full(n - 1 if n > 1 else n + 2, -1, dtype=np.int32)
        args["labels"] = labels
    expect = "valid"
    for m in case.mutations:
        e = MUTATIONS[m]
        if e == "invalid" or (e == "either" and expect != "invalid") or (
                e == "succeed" and expect == "valid"):
            expect = e
    # means_rows-/prec_k- on k = 0 leave everything consistent
    if k == 0 and set(case.mutations) <= {"k0", "means_rows-", "prec_k-", "weights_len-",
                                          "probs_rows-"}:
        expect = "either"
    meta["expect"] = expect
    return args, meta


PAD = 64
_SENTINELS = {"f": -1.25e30, "i": -123456789, "u": 123456789, "b": True}  # fit float32


def guard(a):
    """``a`` copied into the middle of a larger buffer whose ends are filled with a sentinel."""
    a = np.asarray(a)
    buf = np.empty(a.size + 2 * PAD, dtype=a.dtype)
    buf[:PAD] = _SENTINELS[a.dtype.kind]
    buf[-PAD:] = _SENTINELS[a.dtype.kind]
    view = buf[PAD:PAD + a.size].reshape(a.shape)
    view[...] = a
    return view, buf


def call_kernel(case, args, label=""):
    """Call the kernel on guarded copies; checks the guard bands and unmodified inputs."""
    fn = getattr(K, case.kernel)
    guarded, bands, originals = [], [], []
    for name, a in args.items():
        if isinstance(a, np.ndarray) and a.flags.writeable and a.flags.c_contiguous:
            view, buf = guard(a)
            guarded.append(view)
            bands.append((name, buf, buf[:PAD].tobytes(), buf[-PAD:].tobytes()))
        else:
            guarded.append(a)
        originals.append((name, a.copy() if isinstance(a, np.ndarray) else a))
    what = f"{label}run_kernel_case({case!r})"
    out = attempt(f"kernel:{case.kernel}", what, fn, *guarded)
    for name, buf, lo, hi in bands:
        if buf[:PAD].tobytes() != lo or buf[-PAD:].tobytes() != hi:
            fail(f"kernel-oob-write:{case.kernel}",
                 f"{what} wrote outside {name} (shape {args[name].shape})")
    for (name, orig), g in zip(originals, guarded):
        if name != "labels" and isinstance(orig, np.ndarray) and snap(np.asarray(g)) != snap(orig):
            fail(f"kernel-input-modified:{case.kernel}", f"{what} modified {name}")
    labels_after = guarded[list(args).index("labels")] if "labels" in args else None
    return out, labels_after, what


def check_kernel_result(case, args, meta, value, labels_after, what):
    """Shapes always; values against tests/reference.py when the inputs are valid."""
    n, d, k, fam = meta["n"], meta["d"], meta["k"], meta["fam"]
    name = case.kernel
    key = f"kernel-wrong-result:{name}"
    if "log_density" in name:
        if not (isinstance(value, np.ndarray) and value.shape == (n, k)):
            fail(f"kernel-wrong-shape:{name}", f"{what}: {arr_info(value)}, expected ({n}, {k})")
            return
    elif name == "binomial_log_coef_sum":
        if np.ndim(value) != 0:
            fail(f"kernel-wrong-shape:{name}", f"{what}: {short(value)}, expected a float")
            return
    else:
        if not (isinstance(value, tuple) and len(value) == 5):
            fail(f"kernel-wrong-shape:{name}", f"{what}: {short(value)}, expected a 5-tuple")
            return
        s2shape = {"full": (k, d, d), "tied": (d, d), "diag": (k, d), "spherical": (k, d),
                   "binomial": (k, d)}[fam]
        shapes = [(k,), (k, d), s2shape, (), ()]
        got = [np.shape(v) for v in value]
        if got != shapes:
            fail(f"kernel-wrong-shape:{name}", f"{what}: result shapes {got}, expected {shapes}")
            return
    if meta["expect"] != "valid" or n == 0 or k == 0:
        return
    X = args["X"].astype(np.float64)
    rtol, atol = 1e-9, 1e-9
    if fam == "binomial":
        T = meta["T_full"]
        w = args.get("sample_weight", np.empty(0))
        if name == "binomial_log_density":
            want = ref.binomial_log_density(X, T, args["probs"])
            if not np.allclose(value, want, rtol=rtol, atol=atol):
                fail(key, f"{what}: {value} != reference {want}")
        elif name == "binomial_log_coef_sum":
            ww = w if w.size else np.ones(n)
            want = float(np.sum(ww * ref.binomial_log_coef(X, T)))
            if not np.isclose(value, want, rtol=rtol, atol=atol * n):
                fail(key, f"{what}: {value} != reference {want}")
        else:
            u = np.array([ref.splitmix_uniform(args["seed"], args["iteration"], i)
                          for i in range(n)])
            want = ref.binomial_em_step(X, T, args["weights"], args["probs"],
                                        MODE_NAMES[args["mode"]],
                                        sample_weight=w if w.size else None, uniforms=u)
            coef = float(np.sum((w if w.size else np.ones(n)) * ref.binomial_log_coef(X, T)))
            nk, sx, st_, ll, ch = value
            for label, got, exp in (("nk", nk, want["nk"]), ("sum_x", sx, want["sum_x"]),
                                    ("sum_t", st_, want["sum_t"]),
                                    ("loglik", ll + coef, want["loglik"])):
                if not np.allclose(got, exp, rtol=rtol, atol=atol * max(n, 1)):
                    fail(key, f"{what}: {label} {got} != reference {exp}")
            check_labels_changed(case, args, want["labels"], labels_after, ch, what)
        return
    ct = fam
    cov = meta["cov"]
    if "log_density" in name:
        want = ref.gaussian_log_density(X, args["means"], cov, ct)
        if not np.allclose(value, want, rtol=rtol, atol=atol):
            fail(key, f"{what}: {value} != reference {want}")
        return
    w = args["sample_weight"]
    u = np.array([ref.splitmix_uniform(args["seed"], args["iteration"], i) for i in range(n)])
    want = ref.gaussian_em_step(X, args["weights"], args["means"], cov, ct, 0.0,
                                MODE_NAMES[args["mode"]], sample_weight=w if w.size else None,
                                uniforms=u)
    nk, s1, s2, ll, ch = value
    if not np.allclose(nk, want["nk"], rtol=rtol, atol=1e-12):
        fail(key, f"{what}: nk {nk} != reference {want['nk']}")
    if not np.isclose(ll, want["loglik"], rtol=rtol, atol=atol * n):
        fail(key, f"{what}: loglik {ll} != reference {want['loglik']}")
    big = nk > 1e-6
    new_means = args["means"] + s1 / np.where(big, nk, 1.0)[:, None]
    if not np.allclose(new_means[big], want["means"][big], rtol=1e-7, atol=1e-7):
        fail(key, f"{what}: means + s1 / nk {new_means} != reference {want['means']}")
    check_labels_changed(case, args, want["labels"], labels_after, ch, what)


def check_labels_changed(case, args, want_labels, labels_after, changed, what):
    entry = args["labels"]
    if entry.shape[0] == 0:
        return
    if not np.array_equal(labels_after, want_labels):
        fail(f"kernel-wrong-result:{case.kernel}",
             f"{what}: labels {labels_after} != reference {want_labels}")
    w = args["sample_weight"]
    pos = w > 0 if w.size else np.ones(entry.shape[0], bool)
    want = int(np.count_nonzero((entry != want_labels) & pos))
    if changed != want:
        fail(f"kernel-wrong-result:{case.kernel}", f"{what}: n_changed {changed} != {want}")


def run_kernel_case(case):
    """Build, call and check one kernel case (raises a FuzzFailure on a broken contract)."""
    args, meta = kernel_problem(case)
    out, labels_after, what = call_kernel(case, args)
    expect = meta["expect"]
    what = f"{what} [{expect}]"
    if out.ok:
        if expect == "invalid":
            fail(f"kernel-accepted-invalid:{case.kernel}:{','.join(case.mutations)}",
                 f"{what} returned {short(out.value)}; expected ValueError or TypeError")
            return out
        check_kernel_result(case, args, meta, out.value, labels_after, what)
    elif expect in ("valid", "succeed") and not (meta["n"] == 0 or meta["k"] == 0):
        fail(f"kernel-rejected-valid:{case.kernel}", f"{what} raised {out.exc!r}")
    return out


def kernel_settings(max_examples):
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=CI,
        database=None if CI else DirectoryBasedExampleDatabase(
            os.path.join(ROOT, ".hypothesis", "examples")),
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=True,
        print_blob=True,
    )


def kernel_fuzz_test(max_examples):
    @kernel_settings(max_examples)
    @given(kernel_cases())
    def test_kernels(case):
        note(f"run_kernel_case({case!r})")
        run_kernel_case(case)

    return test_kernels


# Type-level mutations: each distinct signature costs a Numba compilation (seconds to a
# minute; cached on disk when it succeeds, repeated in every process when typing fails).
#   "same": a result must equal the canonical one (or ValueError/TypeError);
#   "error": must raise ValueError/TypeError.
TYPE_MUTATIONS = {
    "X_fortran": "same", "X_strided": "same", "X_int64": "same", "X_readonly": "same",
    "X_1d": "error", "X_3d": "error", "X_list": "same",
    "params_float32": "same", "weights_float32": "same", "sw_float32": "same",
    "labels_readonly": "error", "labels_int64": "same", "mode_float": "same",
    "trials_other_dtype": "same", "prec_ndim": "error", "weights_2d": "error",
}


def type_mutations_for(name):
    step = "em_step" in name
    out = ["X_fortran", "X_strided", "X_int64", "X_readonly", "X_1d", "X_3d", "X_list"]
    if name != "binomial_log_coef_sum":
        out.append("params_float32")
    if name.startswith("binomial"):
        out.append("trials_other_dtype")
    else:
        out.append("prec_ndim")
    if step or name == "binomial_log_coef_sum":
        out.append("sw_float32")
    if step:
        out += ["weights_float32", "weights_2d", "labels_readonly", "labels_int64", "mode_float"]
    return out


#: Run by default (kept short: each costs a compilation); "all" runs every pair.
DEFAULT_TYPE_CASES = [
    ("gaussian_log_density_diag", "X_fortran"),
    ("binomial_log_density", "X_1d"),
    ("binomial_log_density", "params_float32"),
    ("binomial_em_step", "labels_readonly"),
    ("gaussian_log_density_full", "prec_ndim"),
]


def type_case_args(kernel, mutation):
    case = KernelCase(kernel, 12, 2, 2, "float64", K.HARD, 3, True, True, "row", 1, ())
    args, meta = kernel_problem(case)
    canon = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in args.items()}
    a = dict(args)
    if mutation == "X_fortran":
        a["X"] = np.asfortranarray(a["X"])
    elif mutation == "X_strided":
        big = np.zeros((a["X"].shape[0] * 2, a["X"].shape[1]))
        big[::2] = a["X"]
        a["X"] = big[::2]
    elif mutation == "X_int64":
        a["X"] = np.rint(a["X"]).astype(np.int64)
        canon["X"] = a["X"].astype(np.float64)
    elif mutation == "X_readonly":
        a["X"] = a["X"].copy()
        a["X"].flags.writeable = False
    elif mutation == "X_1d":
        a["X"] = a["X"][:, 0].copy()
    elif mutation == "X_3d":
        a["X"] = a["X"][:, :, None].copy()
    elif mutation == "X_list":
        a["X"] = a["X"].tolist()
    elif mutation == "params_float32":
        p = "probs" if "probs" in a else "means"
        a[p] = a[p].astype(np.float32)
        canon[p] = a[p].astype(np.float64)
    elif mutation == "weights_float32":
        a["weights"] = a["weights"].astype(np.float32)
        canon["weights"] = a["weights"].astype(np.float64)
    elif mutation == "sw_float32":
        a["sample_weight"] = a["sample_weight"].astype(np.float32)
        canon["sample_weight"] = a["sample_weight"].astype(np.float64)
    elif mutation == "labels_readonly":
        a["labels"] = a["labels"].copy()
        a["labels"].flags.writeable = False
    elif mutation == "labels_int64":
        a["labels"] = a["labels"].astype(np.int64)
    elif mutation == "mode_float":
        a["mode"] = float(a["mode"])
    elif mutation == "trials_other_dtype":
        a["trials"] = a["trials"].astype(np.float32)
    elif mutation == "prec_ndim":
        p = a["prec_chol"]
        a["prec_chol"] = p.reshape(-1, p.shape[-1]) if p.ndim == 3 else (
            p.reshape(-1) if p.ndim == 2 else p[:, None] * np.ones((1, 2)))
    elif mutation == "weights_2d":
        a["weights"] = a["weights"][None, :].copy()
    return case, meta, canon, a


def _flat(value):
    if isinstance(value, tuple):
        return np.concatenate([np.ravel(np.asarray(v, dtype=float)) for v in value])
    return np.ravel(np.asarray(value, dtype=float))


def run_type_case(kernel, mutation):
    case, meta, canon, args = type_case_args(kernel, mutation)
    case = case._replace(mutations=(mutation,))
    what = f"run_type_case({kernel!r}, {mutation!r})"
    fn = getattr(K, kernel)
    want = attempt(f"kernel:{kernel}", f"(canonical) {what}", fn,
                   *[v.copy() if isinstance(v, np.ndarray) else v for v in canon.values()])
    if not want.ok:
        fail(f"kernel-rejected-valid:{kernel}", f"{what}: canonical call raised {want.exc!r}")
        return
    t0 = time.perf_counter()
    got = attempt(f"kernel-types:{kernel}", what, fn, *args.values())
    STATS[f"type case seconds {kernel} {mutation}"] = round(time.perf_counter() - t0, 1)
    if not got.ok:
        return
    if TYPE_MUTATIONS[mutation] == "error":
        fail(f"kernel-type-accepted:{kernel}:{mutation}",
             f"{what} returned {short(got.value)}; expected ValueError or TypeError")
    elif not (np.shape(_flat(got.value)) == np.shape(_flat(want.value)) and np.allclose(
            _flat(got.value), _flat(want.value), rtol=1e-9, atol=1e-9, equal_nan=True)):
        fail(f"kernel-type-wrong-result:{kernel}:{mutation}",
             f"{what} returned {short(got.value)}, the canonical call {short(want.value)}")


def all_type_cases():
    return [(k, m) for k in KERNELS for m in type_mutations_for(k)]


# --------------------------------------------------------------------------- drivers
def default_examples(kind):
    env = os.environ.get("FASTEM_FUZZ_EXAMPLES")
    if env:
        return int(env)
    return {"estimators": 100, "kernels": 300, "kmeans": 60, "selection": 80}[kind]


def _report(title, ok, seconds):
    print(f"== {title}: {'passed' if ok else 'FAILED'} in {seconds:.1f} s", flush=True)


def _run(title, fn):
    """Run one fuzzer: True if it passed (hypothesis' report is printed if not)."""
    t0 = time.perf_counter()
    try:
        fn()
    except BaseException:  # noqa: BLE001 - print hypothesis' report, then fail
        traceback.print_exc()
        _report(title, False, time.perf_counter() - t0)
        return False
    _report(title, True, time.perf_counter() - t0)
    return True


def run_estimators(max_examples):
    return _run(f"estimator state machine ({max_examples} examples)",
                lambda: run_state_machine_as_test(
                    EstimatorMachine, settings=estimator_settings(max_examples)))


def run_kmeans(max_examples):
    import fuzz_kmeans  # here: it imports this module

    return _run(f"KMeans state machine ({max_examples} examples)",
                lambda: fuzz_kmeans.run(max_examples))


def run_selection(max_examples):
    import fuzz_selection  # here: it imports this module

    return _run(f"model selection state machine ({max_examples} examples)",
                lambda: fuzz_selection.run(max_examples))


def run_kernels(max_examples):
    return _run(f"kernel fuzz ({max_examples} examples)", kernel_fuzz_test(max_examples))


def run_kernel_types(which="default"):
    cases = all_type_cases() if which == "all" else DEFAULT_TYPE_CASES
    t0 = time.perf_counter()
    failures = []
    for kernel, mutation in cases:
        try:
            run_type_case(kernel, mutation)
        except FuzzFailure as exc:
            failures.append(str(exc))
    for f in failures:
        print(f"FAILURE {f}\n", flush=True)
    _report(f"kernel type table ({len(cases)} cases, {len(failures)} failures)", not failures,
            time.perf_counter() - t0)
    return not failures


def survey_cases(which="all"):
    """Every kernel x value mutation once (one fixed problem) and/or the whole type table."""
    out = []
    if which in ("all", "value"):
        for kernel in KERNELS:
            out.append(("value", kernel, ()))
            for m in applicable_mutations(kernel):
                out.append(("value", kernel, (m,)))
    if which in ("all", "type"):
        for kernel, m in all_type_cases():
            out.append(("type", kernel, m))
    return out


def survey_child(start, which="all"):
    """Run survey cases from ``start`` on, one JSON line each (the parent restarts us after
    a crash)."""
    cases = survey_cases(which)
    for i in range(start, len(cases)):
        kind, kernel, m = cases[i]
        print(json.dumps({"i": i, "start": True}), flush=True)
        t0 = time.perf_counter()
        try:
            if kind == "value":
                case = KernelCase(kernel, 12, 2, 2, "float64", K.HARD, 3, True, True, "row", 1,
                                  m)
                out = run_kernel_case(case)
                res = "ok" if out.ok else f"raised {type(out.exc).__name__}: {out.exc}"
            else:
                run_type_case(kernel, m)
                res = "ok"
        except FuzzFailure as exc:
            res = f"FAIL {exc}"
        print(json.dumps({"i": i, "result": res[:600],
                          "seconds": round(time.perf_counter() - t0, 2)}), flush=True)


def run_survey(which="all"):
    cases = survey_cases(which)
    results = {}
    start = 0
    while start < len(cases):
        proc = subprocess.run(
            [sys.executable, "-c", f"import fuzz_machine; fuzz_machine.survey_child({start}, {which!r})"],
            cwd=HERE, env=dict(os.environ, PYTHONPATH=HERE), capture_output=True, text=True,
            timeout=3600)
        last = start
        for line in proc.stdout.splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            last = rec["i"]
            if "result" in rec:
                results[rec["i"]] = (rec["result"], rec["seconds"])
        if last in results:
            start = last + 1
        else:
            tail = (proc.stderr or "").strip().splitlines()[-3:]
            results[last] = (f"CRASH (exit {proc.returncode}) {' | '.join(tail)}", None)
            start = last + 1
        if proc.returncode == 0 and start >= len(cases):
            break
    for i, (kind, kernel, m) in enumerate(cases):
        res, secs = results.get(i, ("not run", None))
        label = ",".join(m) if isinstance(m, tuple) else m
        print(f"{kind:5s} {kernel:32s} {label or '(valid)':22s} {secs if secs is not None else '-':>6} "
              f" {res}")
    bad = [r for r, _ in results.values() if r.startswith(("FAIL", "CRASH"))]
    print(f"\n{len(bad)} of {len(cases)} cases broke the contract")
    return not bad


def main(max_examples=None, which="all"):
    """Run the fuzzers; exit non-zero on a failure (hypothesis' report is printed)."""
    faulthandler.enable()
    timeout = os.environ.get("FASTEM_FUZZ_TIMEOUT")
    if timeout:
        faulthandler.dump_traceback_later(max(float(timeout) - 15, 5), exit=False)
    if isinstance(max_examples, str) and which == "all":
        max_examples, which = None, max_examples
    ok = True
    t0 = time.perf_counter()
    if which in ("all", "estimators"):
        ok &= run_estimators(max_examples or default_examples("estimators"))
    if which in ("all", "kernels"):
        ok &= run_kernels(max_examples or default_examples("kernels"))
    if which in ("all", "kmeans"):
        ok &= run_kmeans(max_examples or default_examples("kmeans"))
    if which in ("all", "selection"):
        ok &= run_selection(max_examples or default_examples("selection"))
    if which in ("all", "kernel-types"):
        ok &= run_kernel_types("all" if max_examples == "all" else "default")
    if which.startswith("survey"):
        ok &= run_survey(which.partition("-")[2] or "all")
    if STATS:
        print("\noutcomes (calls, including hypothesis' replays and shrinking):")
        for key in sorted(STATS):
            print(f"  {key}: {STATS[key]}")
    for n in sorted(NOTES):
        print(f"NOTE: {n}")
    print(f"fuzz_machine: {'passed' if ok else 'FAILED'} in {time.perf_counter() - t0:.1f} s",
          flush=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    argv = sys.argv[1:]
    what = argv[0] if argv else "all"
    n = argv[1] if len(argv) > 1 else None
    if what == "kernel-types":
        main("all" if n == "all" else None, "kernel-types")
    else:
        main(int(n) if n else None, what)
