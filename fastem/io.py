"""Saving and loading fitted models as JSON documents, without pickle.

A document holds the format name and version, the fastem version that wrote it, the
estimator's class name, its constructor parameters and its fitted attributes.  Floats are
written exactly (``float.hex``), arrays with their dtype and shape, so that a loaded model
computes bit-identical results.  ``load`` only builds one of fastem's estimator classes
(looked up by name in a fixed table), never executes anything from the file, and
validates what it reads: shapes that agree, finite values, positive-definite precisions,
probabilities in (0, 1), weights summing to 1.  A document of a newer format version is
refused with a message saying which version can read it.

The column names of a fit on a data frame (``feature_names_in_``) are saved with the
model; a transformer's ``set_output`` choice is not (it is a setting of the caller's
pipeline, not of the fit).

    model.save("model.json")
    model = fastem.load("model.json")
"""

import json
import math
import warnings

import numpy as np

from ._version import __version__

FORMAT = "fastem-model"
FORMAT_VERSION = 1
# Attributes a fit sets that are private but part of the fitted state.
_PRIVATE_FITTED = ("_fit_covariance_type", "_fit_free_weights", "_fit_groups")


def _classes():
    from .binomial import BinomialMixture
    from .gaussian import GaussianMixture
    from .kmeans import KMeans
    from .selection import BinomialMixtureSelection, GaussianMixtureSelection

    return {c.__name__: c for c in (GaussianMixture, BinomialMixture, KMeans,
                                     GaussianMixtureSelection, BinomialMixtureSelection)}


# ------------------------------------------------------------------------------ encode
def _encode(value, where):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        out = {"float": float(value).hex()}
        if isinstance(value, np.float32):
            out["dtype"] = "float32"
        return out
    if isinstance(value, np.ndarray):
        return _encode_array(value, where)
    if isinstance(value, (list, tuple)):
        return {"list": [_encode(v, where) for v in value]}
    if isinstance(value, range):
        return {"list": [int(v) for v in value]}
    if isinstance(value, dict):
        return {"dict": {str(k): _encode(v, f"{where}[{k!r}]") for k, v in value.items()}}
    if type(value).__name__ in _classes():
        return {"estimator": _document(value)}
    raise TypeError(f"cannot save {where}: a {type(value).__name__} has no JSON form")


def _encode_array(a, where):
    kind = a.dtype.kind
    if kind == "f":
        data = [float(v).hex() for v in a.astype(np.float64).ravel()]
        return {"array": {"dtype": a.dtype.name, "shape": list(a.shape), "hex": data}}
    if kind in "iub":
        return {"array": {"dtype": a.dtype.name, "shape": list(a.shape),
                          "values": a.ravel().tolist()}}
    if kind in "OU":  # strings and None (a selection's table)
        return {"array": {"dtype": "object", "shape": list(a.shape),
                          "values": [_encode(v, where) for v in a.ravel().tolist()]}}
    raise TypeError(f"cannot save {where}: arrays of dtype {a.dtype} have no JSON form")


def _document(model):
    params = {}
    for name, value in model.get_params(deep=False).items():
        if name == "random_state" and not (value is None or isinstance(value, (int, np.integer))):
            warnings.warn(f"random_state={value!r} is not saved (only an int or None is): the "
                          "loaded model has random_state=None", UserWarning, stacklevel=4)
            value = None
        params[name] = _encode(value, f"parameter {name}")
    fitted = {}
    for name, value in vars(model).items():
        public = name.endswith("_") and not name.startswith("_")
        if public or name in _PRIVATE_FITTED:
            fitted[name] = _encode(value, f"attribute {name}")
    return {"class": type(model).__name__, "params": params, "fitted": fitted}


def dumps(model):
    """The JSON document of a fitted (or unfitted) fastem estimator, as a string."""
    if type(model).__name__ not in _classes():
        raise TypeError(f"fastem.io saves fastem's estimators, not {type(model).__name__}")
    doc = {"format": FORMAT, "format_version": FORMAT_VERSION, "fastem_version": __version__,
           "model": _document(model)}
    return json.dumps(doc, indent=1)


def save(model, path):
    """Write ``model`` to ``path`` as a JSON document (see the module docstring)."""
    text = dumps(model)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


# ------------------------------------------------------------------------------ decode
class _Bad(ValueError):
    pass


def _decode(value, where):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):  # not written by fastem, but harmless
        return value
    if isinstance(value, dict) and len(value) >= 1:
        if "float" in value:
            x = _hex(value["float"], where)
            return np.float32(x) if value.get("dtype") == "float32" else x
        if "array" in value:
            return _decode_array(value["array"], where)
        if "list" in value and isinstance(value["list"], list):
            return [_decode(v, where) for v in value["list"]]
        if "dict" in value and isinstance(value["dict"], dict):
            return {k: _decode(v, f"{where}[{k!r}]") for k, v in value["dict"].items()}
        if "estimator" in value:
            return _build(value["estimator"], where)
    raise _Bad(f"{where}: unreadable value {str(value)[:80]!r}")


def _hex(text, where):
    if not isinstance(text, str):
        raise _Bad(f"{where}: a float must be written as a hex string; got {text!r}")
    try:
        return float.fromhex(text)
    except (ValueError, OverflowError):
        raise _Bad(f"{where}: {text!r} is not a hex float") from None


_DTYPES = {"float32", "float64", "int32", "int64", "bool", "object"}


def _decode_array(spec, where):
    if not isinstance(spec, dict):
        raise _Bad(f"{where}: unreadable array")
    dtype, shape = spec.get("dtype"), spec.get("shape")
    if dtype not in _DTYPES:
        raise _Bad(f"{where}: unsupported dtype {dtype!r}")
    # (bool is an int; each length below 2^31, so that NumPy can hold the shape)
    if not (isinstance(shape, list) and len(shape) <= 8 and all(
            isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 2 ** 31
            for s in shape)):
        raise _Bad(f"{where}: bad shape {str(shape)[:80]}")
    size = math.prod(shape)  # exact: np.prod would wrap around
    if dtype.startswith("float"):
        data = spec.get("hex")
        if not isinstance(data, list) or len(data) != size:
            raise _Bad(f"{where}: {size} values expected for shape {tuple(shape)}")
        out = np.array([_hex(v, where) for v in data], dtype=np.float64)
        return out.astype(dtype).reshape(shape)
    data = spec.get("values")
    if not isinstance(data, list) or len(data) != size:
        raise _Bad(f"{where}: {size} values expected for shape {tuple(shape)}")
    if dtype == "object":
        out = np.empty(size, dtype=object)
        for i, v in enumerate(data):
            out[i] = _decode(v, where)
        return out.reshape(shape)
    if dtype == "bool":
        if not all(isinstance(v, bool) for v in data):
            raise _Bad(f"{where}: booleans expected")
    else:
        lo, hi = int(np.iinfo(dtype).min), int(np.iinfo(dtype).max)
        if not all(isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi
                   for v in data):
            raise _Bad(f"{where}: integers of {dtype} expected")
    return np.array(data, dtype=dtype).reshape(shape)


def _build(doc, where="model"):
    classes = _classes()
    if not isinstance(doc, dict) or doc.get("class") not in classes:
        name = doc.get("class") if isinstance(doc, dict) else None
        raise _Bad(f"{where}: unknown estimator class {name!r}; this file can hold "
                   f"{sorted(classes)}")
    cls = classes[doc["class"]]
    params = doc.get("params", {})
    fitted = doc.get("fitted", {})
    if not isinstance(params, dict) or not isinstance(fitted, dict):
        raise _Bad(f"{where}: params and fitted must be objects")
    values = {k: _decode(v, f"{where} parameter {k}") for k, v in params.items()}
    unknown = set(values) - set(cls._param_names())
    if unknown and not cls.__name__.endswith("Selection"):  # a selection passes them on
        raise _Bad(f"{where}: {cls.__name__} has no parameters {sorted(unknown)}")
    model = cls(**values)
    for name, value in fitted.items():
        if not ((name.endswith("_") and not name.startswith("_")) or name in _PRIVATE_FITTED):
            raise _Bad(f"{where}: {name!r} is not a fitted attribute")
        setattr(model, name, _decode(value, f"{where} attribute {name}"))
    _validate(model, where)
    return model


def _validate(model, where):
    """The checks of a loaded model: whatever its methods would trip over, now."""
    name = type(model).__name__
    groups = {"GaussianMixture": 3, "BinomialMixture": 2}.get(name)  # the fitted groups
    if hasattr(model, "_fit_groups") and not (
            groups and isinstance(model._fit_groups, (list, tuple))
            and len(model._fit_groups) == groups
            and all(isinstance(g, bool) for g in model._fit_groups)):
        raise _Bad(f"{where}: _fit_groups must be {groups} booleans" if groups else
                   f"{where}: a {name} has no _fit_groups")
    if hasattr(model, "_fit_free_weights") and not isinstance(model._fit_free_weights, bool):
        raise _Bad(f"{where}: _fit_free_weights must be a boolean")
    if hasattr(model, "feature_names_in_"):
        names = model.feature_names_in_
        d = getattr(model, "n_features_in_", None)
        if not (isinstance(names, np.ndarray) and names.dtype == object and names.ndim == 1
                and all(isinstance(v, str) for v in names)
                and isinstance(d, int) and names.shape[0] == d):
            raise _Bad(f"{where}: feature_names_in_ must be n_features_in_ column names "
                       "(strings)")
    if name == "KMeans":
        if hasattr(model, "cluster_centers_"):
            c = np.asarray(model.cluster_centers_)
            if c.ndim != 2 or c.shape[0] < 1 or not np.all(np.isfinite(c)):
                raise _Bad(f"{where}: cluster_centers_ must be a finite (k, d) array")
        return
    if name.endswith("Selection"):
        if hasattr(model, "best_estimator_"):
            best = model.best_estimator_  # validated as it was built (a nested model)
            if type(best) is not model._model or not hasattr(best, "weights_"):
                raise _Bad(f"{where}: best_estimator_ must be a fitted "
                           f"{model._model.__name__}")
            crit = getattr(model, "criteria_", None)
            if not isinstance(crit, dict) or len({len(v) for v in crit.values()}) > 1:
                raise _Bad(f"{where}: criteria_ must be a table of equal-length columns")
        return
    if not hasattr(model, "weights_"):
        return  # not fitted
    try:
        model._fitted_params()  # shapes, finiteness, triangular positive factors
    except ValueError as exc:
        raise _Bad(f"{where}: {exc}") from None
    weights = np.asarray(model.weights_, dtype=np.float64)
    tol = 1e-5 if np.asarray(model.weights_).dtype == np.float32 else 1e-10
    if np.any(weights < 0) or abs(float(weights.sum()) - 1.0) > tol:
        raise _Bad(f"{where}: weights_ must be non-negative and sum to 1")
    if name == "BinomialMixture":
        probs = np.asarray(model.probs_, dtype=np.float64)
        if not np.all((probs > 0) & (probs < 1)):
            raise _Bad(f"{where}: probs_ must lie strictly between 0 and 1")
    else:
        cov = np.asarray(model.covariances_, dtype=np.float64)
        single = np.asarray(model.covariances_).dtype == np.float32
        if model._fitted_covariance_type() in ("full", "tied"):
            for c, mat in enumerate(cov.reshape(-1, cov.shape[-1], cov.shape[-1])):
                try:
                    np.linalg.cholesky(mat)
                except np.linalg.LinAlgError:
                    # A float32 fit stores the float32 rounding of a positive definite
                    # float64 covariance, which can be indefinite (the model then uses
                    # the precision factor's, see gaussian._float32_covariances).  By
                    # Weyl's inequality rounding moves no eigenvalue by more than
                    # eps/2 |S|_F: anything below that was not a covariance.
                    floor = -np.finfo(np.float32).eps * np.linalg.norm(mat)
                    if not (single and np.linalg.eigvalsh(mat)[0] >= floor):
                        raise _Bad(f"{where}: covariances_[{c}] is not positive "
                                   "definite") from None
                # relative to the entries' scale sqrt(s_ii s_jj): a fit's covariances are
                # symmetric to rounding (an off-diagonal 1.8e-18 against 0 with variances
                # of 1e-6), and an absolute zero tolerance refused what save wrote
                scale = np.sqrt(np.outer(np.diag(mat), np.diag(mat)))
                if not np.all(np.abs(mat - mat.T) <= 1e-6 * scale):
                    raise _Bad(f"{where}: covariances_[{c}] is not symmetric")


def loads(text):
    """The estimator of a JSON document (a string); see :func:`load`."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not a fastem model file: not JSON ({exc})") from None
    except RecursionError:  # the decoder's own limit, e.g. [[[[...]]]] a million deep
        raise ValueError("not a fastem model file: nested too deeply") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"not a fastem model file (no \"format\": \"{FORMAT}\")")
    version = doc.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"bad format_version {version!r}")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"this model file has format version {version}, written by fastem "
            f"{doc.get('fastem_version', '?')}; this fastem ({__version__}) reads versions "
            f"up to {FORMAT_VERSION}: upgrade fastem to load it")
    try:
        return _build(doc.get("model"))
    except RecursionError:  # estimators nested in parameters, deeper than any fastem writes
        raise ValueError("not a fastem model file: estimators nested too deeply") from None


def load(path):
    """Load an estimator saved by ``model.save(path)`` (or :func:`save`).

    Raises ValueError for a file that is not a fastem model, is from a newer format
    version, or holds parameters that are inconsistent or invalid; never executes code.
    """
    with open(path, encoding="utf-8") as f:
        return loads(f.read())
