"""Every boundary check.  Errors say what is wrong and, where it helps, what to change.

Nothing here modifies the caller's arrays: conversions copy only when the dtype or
memory layout has to change, and the kernels only read their inputs.
"""

import numbers
import sys
import warnings

import numpy as np

from .exceptions import not_fitted_error

EMPTY_F64 = np.empty(0, dtype=np.float64)
EMPTY_I32 = np.empty(0, dtype=np.int32)


def check_random_state(random_state):
    """Return a ``numpy.random.Generator`` from None, an int, a Generator or a RandomState."""
    if random_state is None or isinstance(random_state, (numbers.Integral, np.integer)):
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    raise ValueError(
        f"random_state must be None, an int, a numpy Generator or RandomState; got {random_state!r}"
    )


def check_int(value, name, low, high=None):
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise ValueError(f"{name} must be an integer; got {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be {bounds}; got {value}")
    return int(value)


def check_n_samples(n_samples):
    """``sample``'s count: an int >= 1 (the error starts as scikit-learn's does)."""
    if (isinstance(n_samples, bool) or not isinstance(n_samples, (numbers.Integral, np.integer))
            or n_samples < 1):
        raise ValueError(
            f"Invalid value for 'n_samples': {n_samples!r}. sample draws an integer number "
            "of rows, at least 1."
        )
    return int(n_samples)


def check_real(value, name, low, *, strict=False):
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise ValueError(f"{name} must be a real number; got {value!r}")
    value = float(value)
    if not np.isfinite(value) or value < low or (strict and value == low):
        op = ">" if strict else ">="
        raise ValueError(f"{name} must be finite and {op} {low}; got {value}")
    return value


def check_choice(value, name, choices):
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}; got {value!r}")
    return value


class InputTypeError(TypeError, ValueError):
    """Input of a kind fastem does not take (sparse, non-numeric objects).

    A TypeError, as NumPy and scikit-learn raise for these, and a ValueError, as every
    other bad input to fastem is.
    """


def _is_sparse(X):
    # scipy.sparse cannot hold X unless it is loaded: looked up, never imported.
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and sparse.issparse(X)


def as_float_array(X, name="X"):
    """Numeric array -> float32 stays float32, everything else becomes float64."""
    if _is_sparse(X):
        raise InputTypeError(
            f"Sparse input is not supported: {name} is a scipy.sparse {type(X).__name__}. "
            f"Pass a dense array ({name}.toarray()) if it fits in memory."
        )
    if hasattr(X, "__array__") or isinstance(X, (list, tuple, numbers.Number)):
        try:
            arr = np.asarray(X)
        except Exception as exc:  # ragged lists and the like
            raise ValueError(f"{name} could not be read as a numeric array: {exc}") from None
    else:
        raise ValueError(f"{name} must be array-like; got {type(X).__name__}")
    if arr.dtype.kind == "c":
        raise ValueError(
            f"Complex data not supported: {name} must be real-valued; got dtype {arr.dtype}"
        )
    if arr.dtype.kind not in "biuf":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            # NumPy's reason names the offending value's type (a TypeError) or text.
            kind = InputTypeError if isinstance(exc, TypeError) else ValueError
            raise kind(
                f"{name} must be numeric; its dtype {arr.dtype} could not be converted to "
                f"float: {exc}"
            ) from None
    dtype = np.float32 if arr.dtype == np.float32 else np.float64
    # np.asarray, not np.ascontiguousarray: the latter turns a 0-d array into shape (1,).
    return np.asarray(arr, dtype=dtype, order="C")


def check_sample_weight(sample_weight, n_samples, scale=True):
    """None -> empty array (unit weights, no allocation); else checked float64 (n,) weights
    divided by their maximum (``scale=False``: as given, and all zero allowed; for
    statistics of a chunk, which must add up with other chunks').

    EM is invariant to scaling the weights, but float64 is not: weights of 1e-20 would
    drown in the 10 * eps scikit-learn adds to every component's weight, and weights of
    1e200 overflow in the second moments.  Scaled to a maximum of 1, any positive multiple
    of the same weights gives the same fit.
    """
    if sample_weight is None:
        return EMPTY_F64
    w = as_float_array(sample_weight, "sample_weight").astype(np.float64, copy=False)
    if w.ndim != 1 or w.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight must have shape ({n_samples},), one weight per row of X; got {w.shape}"
        )
    if not np.all(np.isfinite(w)):
        raise ValueError("sample_weight contains NaN or infinity")
    if np.any(w < 0):
        raise ValueError(f"sample_weight must be >= 0; row {int(np.argmax(w < 0))} is negative")
    if not scale:
        return np.ascontiguousarray(w)
    top = w.max() if n_samples else 0.0
    if not top > 0:
        raise ValueError("sample_weight is zero for every row; it must have a positive sum")
    return w / top


def check_not_empty(X, shape, name="X"):
    """At least one row and one column in the 2-D ``X``; ``shape``: what the caller gave."""
    for count, what in ((X.shape[0], "sample"), (X.shape[1], "feature")):
        if count == 0:
            raise ValueError(
                f"{name} is empty: 0 {what}(s) (shape={tuple(shape)}) while a minimum of 1 is "
                "required."
            )


def feature_names(X):
    """The column names of a data frame ``X`` (pandas, polars, anything with ``columns``)
    as an object array when every one is a string; None for arrays, and for frames whose
    names are not strings (e.g. pandas' default 0, 1, ...), as scikit-learn does."""
    if isinstance(X, np.ndarray) or not hasattr(X, "columns"):
        return None
    try:
        names = [c for c in X.columns]
    except TypeError:
        return None
    kinds = sorted({type(c).__name__ for c in names})
    if not names or kinds != ["str"]:
        if "str" in kinds:
            raise InputTypeError(
                f"X's column names mix strings with other types ({', '.join(kinds)}): "
                "fastem keeps column names only when all of them are strings. Make them "
                "all strings (X.columns = X.columns.astype(str)) or all of another type."
            )
        return None
    return np.array(names, dtype=object)


def _listed(names):
    shown = [f"- {n}\n" for n in names[:5]]
    return "".join(shown) + ("- ...\n" if len(names) > 5 else "")


def _caller_level():
    """The ``stacklevel`` that names the first caller outside fastem (the user's line,
    however deep the check sits), for a warning raised by this module's caller."""
    frame, level = sys._getframe(2), 2
    while frame is not None and frame.f_globals.get("__name__", "").startswith("fastem"):
        frame, level = frame.f_back, level + 1
    return level


def check_feature_names(estimator, X):
    """The column names of ``X`` against those ``estimator`` was fitted with
    (``feature_names_in_``): a UserWarning when only one of the two has names, a
    ValueError when the names differ (in scikit-learn's words, which its checks and
    users' filters match); checked before the number of columns, so that a missing
    column is named."""
    fitted = getattr(estimator, "feature_names_in_", None)
    names = feature_names(X)
    who = type(estimator).__name__
    if fitted is None and names is None:
        return
    if fitted is None:
        warnings.warn(f"X has feature names, but {who} was fitted without feature names",
                      UserWarning, stacklevel=_caller_level())
        return
    if names is None:
        warnings.warn(f"X does not have valid feature names, but {who} was fitted with "
                      "feature names", UserWarning, stacklevel=_caller_level())
        return
    fitted = [str(n) for n in fitted]
    names = [str(n) for n in names]
    if fitted == names:
        return
    unseen = sorted(set(names) - set(fitted))
    missing = sorted(set(fitted) - set(names))
    message = "The feature names should match those that were passed during fit.\n"
    if unseen:
        message += "Feature names unseen at fit time:\n" + _listed(unseen)
    if missing:
        message += "Feature names seen at fit time, yet now missing:\n" + _listed(missing)
    if not unseen and not missing:
        message += "Feature names must be in the same order as they were in fit.\n"
    raise ValueError(message)


def set_feature_names(estimator, names):
    """Record the names a fit saw (or forget those of an earlier fit)."""
    if names is None:
        estimator.__dict__.pop("feature_names_in_", None)
    else:
        estimator.feature_names_in_ = names


def wrong_features(X, n_features, estimator):
    return ValueError(
        f"X has {X.shape[1]} features, but {type(estimator).__name__} is expecting "
        f"{n_features} features as input (the number it was fitted with)."
    )


def n_effective_rows(w, n_samples):
    return n_samples if w.shape[0] == 0 else int(np.count_nonzero(w))


def check_fitted(estimator, attribute):
    if not hasattr(estimator, attribute):
        raise not_fitted_error(estimator)


def check_weights(weights, n_components, name="weights_init"):
    w = np.array(weights, dtype=np.float64, copy=True)
    if w.shape != (n_components,):
        raise ValueError(f"{name} must have shape ({n_components},); got {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or np.any(w > 1):
        raise ValueError(f"{name} must be finite and in [0, 1]; got {w}")
    if not np.isclose(w.sum(), 1.0, rtol=0.0, atol=1e-6):
        raise ValueError(f"{name} must sum to 1; got sum {w.sum():.8g}")
    return w / w.sum()
