"""The command line: ``fastem fit | predict | score | select | demo | warmup`` (also
``python -m fastem ...``).

Data files: CSV (a header line is detected: a first line that is not all numbers; empty
cells are missing values; a non-numeric column is refused by name unless ``--columns``
leaves it out), ``.npy``, and ``.parquet`` / ``.feather`` when pyarrow is installed.
Models are the JSON documents of :mod:`fastem.io`.  A model fitted on a file with named
columns (a CSV header, parquet, feather) keeps the names (``feature_names_in_``);
``predict`` and ``score`` on a file with named columns then take those columns by name,
in the model's order, whatever the file's order or extra columns.  An error prints one
line and exits with status 1 (``--debug``: the traceback).
"""

import argparse
import contextlib
import csv
import os
import sys

import numpy as np


class CLIError(Exception):
    """An error the command line reports in one line."""


# ------------------------------------------------------------------------------ data
class _Named:
    """Rows with column names, as the estimators read a data frame (``columns``), so that
    the names travel through their own checks; fastem needs no pandas for it."""

    def __init__(self, X, names):
        self.X, self.columns = X, list(names)

    def __array__(self, dtype=None, copy=None):
        return self.X if dtype is None else self.X.astype(dtype)


def named_data(path, columns=None):
    """The rows of a data file, as :func:`read_data`, wrapped with their column names when
    the file names its columns (a CSV header, parquet, feather; not .npy)."""
    X, names, named = read_data(path, columns)
    return (_Named(X, names) if named else X), names


def for_model(model, path, columns=None):
    """The rows of a data file for a fitted ``model``: when the model keeps column names
    and the file names its columns, the model's columns, by name and in its order."""
    X, names, named = read_data(path, columns)
    fitted = getattr(model, "feature_names_in_", None)
    if fitted is None:
        return X
    fitted = [str(c) for c in fitted]
    if not named:
        return _Named(X, fitted)  # by position (the model checks the number of columns)
    missing = [c for c in fitted if c not in names]
    if missing:
        raise CLIError(f"{path}: no column {', '.join(map(repr, missing))} of the model's "
                       f"{len(fitted)} ({', '.join(fitted)})")
    return _Named(X[:, [names.index(c) for c in fitted]], fitted)


def read_data(path, columns=None):
    """(X float64 (n, d), column names, whether the file names them) from a CSV, .npy,
    .parquet or .feather file; unnamed columns are called x0, x1, ..."""
    if not os.path.exists(path):
        raise CLIError(f"{path}: no such file")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npy":
        X = np.load(path, allow_pickle=False)
        if X.ndim == 1:
            X = X[:, None]
        if X.ndim != 2:
            raise CLIError(f"{path}: expected a 2-D array, got shape {X.shape}")
        names = [f"x{j}" for j in range(X.shape[1])]
        return _select(np.asarray(X, dtype=np.float64), names, columns, path) + (False,)
    if ext in (".parquet", ".feather"):
        return _read_arrow(path, ext, columns) + (True,)
    return _read_csv(path, columns)


def _select(X, names, columns, path):
    if not columns:
        return X, names
    want = [c.strip() for c in columns.split(",") if c.strip()]
    idx = []
    for c in want:
        if c in names:
            idx.append(names.index(c))
        elif c.isdigit() and int(c) < len(names):
            idx.append(int(c))
        else:
            raise CLIError(f"{path}: no column {c!r} (columns: {', '.join(names)})")
    return X[:, idx], [names[i] for i in idx]


def _number(text):
    text = text.strip()
    if text == "" or text.lower() in ("na", "nan"):
        return np.nan
    return float(text)


def _read_csv(path, columns):
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = [r for r in csv.reader(f) if r]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CLIError(f"{path}: cannot read as CSV ({exc})") from None
    if not rows:
        raise CLIError(f"{path}: empty file")
    first = rows[0]
    try:
        [_number(v) for v in first]
        names, body, line0 = [f"x{j}" for j in range(len(first))], rows, 1
    except ValueError:
        names, body, line0 = [v.strip() for v in first], rows[1:], 2
    named = line0 == 2
    if not body:
        raise CLIError(f"{path}: no data rows")
    d = len(names)
    for i, r in enumerate(body):
        if len(r) != d:
            raise CLIError(f"{path}: line {i + line0} has {len(r)} fields, expected {d}")
    keep = list(range(d))
    if columns:
        _, chosen = _select(np.empty((0, d)), names, columns, path)
        keep = [names.index(c) for c in chosen]
    X = np.empty((len(body), len(keep)))
    for out_j, j in enumerate(keep):
        for i, r in enumerate(body):
            try:
                X[i, out_j] = _number(r[j])
            except ValueError:
                raise CLIError(f"{path}: column {names[j]!r} is not numeric (line {i + line0}: "
                               f"{r[j]!r}); choose numeric columns with --columns") from None
    return X, [names[j] for j in keep], named


def _read_arrow(path, ext, columns):
    import importlib.util

    if importlib.util.find_spec("pyarrow") is None:  # the optional extra
        raise CLIError(f"{path}: reading {ext} files needs pyarrow (pip install "
                       "'fastem[arrow]')")
    if ext == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
    else:
        import pyarrow.feather as pf

        table = pf.read_table(path)
    names = list(table.column_names)
    cols = []
    for name in names:
        col = table.column(name)
        try:
            cols.append(np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64))
        except (TypeError, ValueError):
            if columns is None or name in columns.split(","):
                raise CLIError(f"{path}: column {name!r} is not numeric; choose numeric "
                               "columns with --columns") from None
            cols.append(np.full(table.num_rows, np.nan))
    return _select(np.column_stack(cols), names, columns, path)


# ------------------------------------------------------------------------------ commands
def _components(text):
    try:
        if "-" in text:
            lo, hi = text.split("-", 1)
            return list(range(int(lo), int(hi) + 1))
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise CLIError(f"--components: expected a number, a list (1,2,3) or a range (1-9); "
                       f"got {text!r}") from None


def _trials(value):
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise CLIError(f"--trials: expected an integer; got {value!r}") from None


def _progress(args):
    """Progress on stderr (the estimators print to stdout: redirected)."""
    if args.quiet:
        return contextlib.nullcontext()
    return contextlib.redirect_stdout(sys.stderr)


def _cmd_fit(args, out):
    import fastem

    data, names = named_data(args.data, args.columns)
    X = np.asarray(data)
    ks = _components(args.components)
    if len(ks) != 1:
        raise CLIError("fit takes one number of components (use select for several)")
    common = dict(mode=args.mode, n_init=args.n_init, random_state=args.random_state,
                  max_iter=args.max_iter, tol=args.tol, verbose=0 if args.quiet else 2)
    trials = _trials(args.trials)
    if args.model == "binomial":
        model = fastem.BinomialMixture(ks[0], **common)
        fit_kw, score_kw = {"trials": trials}, {"trials": trials}
    else:
        if trials is not None:
            raise CLIError("--trials is for --model binomial")
        model = fastem.GaussianMixture(ks[0], covariance_type=args.covariance_type,
                                       verbose_interval=1, **common)
        fit_kw, score_kw = {}, {}
    with _progress(args):
        model.fit(data, **fit_kw)
    model.set_params(verbose=0)
    model.save(args.output)
    ll = float(model.score(data, **score_kw)) * X.shape[0]
    print(f"fitted {type(model).__name__} ({ks[0]} components) on {X.shape[0]} rows x "
          f"{X.shape[1]} columns ({', '.join(names)})", file=out)
    print(f"converged: {model.converged_}, iterations: {model.n_iter_}", file=out)
    print(f"log-likelihood: {ll:.6f}  BIC: {model.bic(data, **score_kw):.6f}", file=out)
    print("weights: " + " ".join(f"{w:.6g}" for w in model.weights_), file=out)
    params = model.means_ if args.model == "gaussian" else model.probs_
    label = "means" if args.model == "gaussian" else "probs"
    for c, row in enumerate(np.atleast_2d(params)):
        print(f"{label}[{c}]: " + " ".join(f"{v:.6g}" for v in row), file=out)
    print(f"model written to {args.output}", file=out)


def _load_model(path):
    import fastem

    if not os.path.exists(path):
        raise CLIError(f"{path}: no such file")
    return fastem.load(path)


def _kw(model, args):
    return {"trials": _trials(args.trials)} if type(model).__name__ == "BinomialMixture" else {}


def _cmd_predict(args, out):
    model = _load_model(args.model_file)
    X = for_model(model, args.data, args.columns)
    kw = _kw(model, args)
    if args.proba:
        P = model.predict_proba(X, **kw)
        header = ",".join(f"p{c}" for c in range(P.shape[1]))
        lines = [",".join(repr(float(v)) for v in row) for row in P]
    else:
        header = "label"
        lines = [str(int(v)) for v in model.predict(X, **kw)]
    text = header + "\n" + "\n".join(lines) + "\n"
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        out.write(text)


def _cmd_score(args, out):
    model = _load_model(args.model_file)
    X = for_model(model, args.data, args.columns)
    print(f"{float(model.score(X, **_kw(model, args))):.10g}", file=out)


def _cmd_select(args, out):
    import fastem

    X, _ = named_data(args.data, args.columns)
    ks = _components(args.components)
    trials = _trials(args.trials)
    common = dict(criterion=args.criterion, n_init=args.n_init, random_state=args.random_state,
                  max_iter=args.max_iter, tol=args.tol)
    if args.model == "binomial":
        sel = fastem.BinomialMixtureSelection(ks, **common)
        with _progress(args):
            sel.fit(X, trials=trials)
    else:
        sel = fastem.GaussianMixtureSelection(ks, covariance_types=args.covariance_types.split(
            ","), **common)
        with _progress(args):
            sel.fit(X)
    c = sel.criteria_
    cols = [k for k in ("n_components", "covariance_type", "log_likelihood", "n_parameters",
                        "bic", "aic", "icl", "converged", "error") if k in c]
    print(",".join(cols), file=out)
    for i in range(len(c["n_components"])):
        cells = []
        for k in cols:
            v = c[k][i]
            cells.append("" if v is None else (f"{v:.6f}" if isinstance(v, float) else str(v)))
        print(",".join(cells), file=out)
    print(f"best: {sel.best_params_} by {args.criterion}", file=out)
    if args.output:
        sel.best_estimator_.save(args.output)
        print(f"best model written to {args.output}", file=out)


def _parser():
    p = argparse.ArgumentParser(prog="fastem", description="Mixture models fitted by EM.")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", required=True)

    def data_args(q):
        q.add_argument("--columns", help="comma-separated column names or indices to use")
        q.add_argument("--trials", help="trials per count (binomial models)")

    f = sub.add_parser("fit", help="fit a mixture and save it as JSON")
    f.add_argument("data")
    f.add_argument("--components", "-k", required=True)
    f.add_argument("--model", choices=("gaussian", "binomial"), default="gaussian")
    f.add_argument("--covariance-type", default="full",
                   choices=("full", "tied", "diag", "spherical"))
    f.add_argument("--mode", default="soft", choices=("soft", "hard", "stochastic"))
    f.add_argument("--n-init", type=int, default=1)
    f.add_argument("--random-state", type=int, default=None)
    f.add_argument("--max-iter", type=int, default=100)
    f.add_argument("--tol", type=float, default=1e-3)
    f.add_argument("--output", "-o", required=True)
    f.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    data_args(f)

    for name, helptext in (("predict", "labels (or --proba) of each row"),
                           ("score", "mean log-likelihood of the rows")):
        q = sub.add_parser(name, help=helptext)
        q.add_argument("model_file")
        q.add_argument("data")
        if name == "predict":
            q.add_argument("--proba", action="store_true")
            q.add_argument("--output", "-o")
        data_args(q)

    s = sub.add_parser("select", help="fit a grid of candidates, print the criteria table")
    s.add_argument("data")
    s.add_argument("--components", "-k", default="1-9")
    s.add_argument("--model", choices=("gaussian", "binomial"), default="gaussian")
    s.add_argument("--covariance-types", default="full,tied,diag,spherical")
    s.add_argument("--criterion", default="bic", choices=("bic", "aic", "icl"))
    s.add_argument("--n-init", type=int, default=1)
    s.add_argument("--random-state", type=int, default=None)
    s.add_argument("--max-iter", type=int, default=100)
    s.add_argument("--tol", type=float, default=1e-3)
    s.add_argument("--output", "-o", help="save the best model as JSON")
    s.add_argument("--quiet", "-q", action="store_true")
    data_args(s)

    dm = sub.add_parser("demo", help="worked examples with timings")
    dm.add_argument("--plots", metavar="DIR",
                    help="also write the figures of the red-blood-cell fit into DIR")
    w = sub.add_parser("warmup", help="compile every kernel into Numba's on-disk cache")
    w.add_argument("--quiet", action="store_true", help="print nothing")
    w.add_argument("--no-public-kernels", action="store_true",
                   help="skip the public functions of fastem.kernels")
    return p


def main(argv=None, out=None):
    """Run the command line; returns the exit status (0 on success, 1 on error)."""
    out = sys.stdout if out is None else out
    args = _parser().parse_args(argv)
    commands = {"fit": _cmd_fit, "predict": _cmd_predict, "score": _cmd_score,
                "select": _cmd_select}
    try:
        if args.command == "demo":
            from ._demo import main as demo

            demo(plots=args.plots)
        elif args.command == "warmup":
            from ._warmup import warmup

            seconds = warmup(kernels=not args.no_public_kernels, verbose=not args.quiet)
            if not args.quiet:
                print(f"fastem.warmup: everything ready in {seconds:.1f} s", file=out)
        else:
            commands[args.command](args, out)
    except BrokenPipeError:  # the reader went away (fastem ... | head): nothing to say
        sys.stderr.close()
        return 0
    except (CLIError, ValueError, TypeError, OSError) as exc:
        if args.debug:
            raise
        print(f"fastem {args.command}: error: {exc}", file=sys.stderr)
        return 1
    return 0


def console():
    """The ``fastem`` console script."""
    sys.exit(main())
