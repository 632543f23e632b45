"""scikit-learn style parameter handling, without importing scikit-learn."""

import inspect
import sys


class BaseEstimator:
    """``get_params``/``set_params``/``repr`` read from the constructor signature.

    As in scikit-learn, the constructor only stores its arguments; validation happens in
    ``fit``.  That makes ``sklearn.base.clone`` and grid searches work on fastem models.
    """

    @classmethod
    def _param_names(cls):
        sig = inspect.signature(cls.__init__)
        return sorted(
            p.name
            for p in sig.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        )

    def get_params(self, deep=True):
        """Parameters of this estimator, as a dict name -> value."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params):
        """Set parameters by name; returns ``self``."""
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"Invalid parameter {name!r} for {type(self).__name__}; valid: {valid}"
                )
            setattr(self, name, value)
        return self

    # ------------------------------------------------------------ metadata routing
    # scikit-learn's metadata routing (``sklearn.set_config(enable_metadata_routing=True)``)
    # asks each estimator which of its methods' extra arguments (``sample_weight``,
    # ``trials``) a meta-estimator may pass on: ``set_fit_request(sample_weight=True)``
    # and ``get_metadata_routing()``, built here from the methods' signatures without
    # importing scikit-learn (which is loaded whenever routing is in use).
    _ROUTED = ("fit", "partial_fit", "predict", "predict_proba", "score", "transform")

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for method, params in cls._metadata_params().items():
            setattr(cls, f"set_{method}_request", _request_setter(method, params))

    @classmethod
    def _metadata_params(cls):
        """{method: the names of its extra arguments} for the routed methods."""
        out = {}
        for method in cls._ROUTED:
            fn = getattr(cls, method, None)
            if fn is None:
                continue
            params = [p.name for p in inspect.signature(fn).parameters.values()
                      if p.name not in ("self", "X", "y")
                      and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
            if params:
                out[method] = tuple(params)
        return out

    def get_metadata_routing(self):
        """The metadata this estimator's methods take, as a scikit-learn
        ``MetadataRequest`` (set with ``set_<method>_request``)."""
        from sklearn.utils.metadata_routing import MetadataRequest

        chosen = getattr(self, "_metadata_request", None)
        chosen = chosen.requests if isinstance(chosen, _Requests) else {}
        out = MetadataRequest(owner=self)
        for method, params in self._metadata_params().items():
            for param in params:
                getattr(out, method).add_request(param=param,
                                                 alias=chosen.get(method, {}).get(param))
        return out

    def __repr__(self):
        defaults = {
            p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()
        }
        changed = []
        for name, value in self.get_params().items():
            default = defaults.get(name, inspect.Parameter.empty)
            try:
                same = value is default or bool(value == default)
            except Exception:  # arrays compare elementwise
                same = False
            if not same:
                changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"


class _Requests:
    """An estimator's metadata requests, {method: {argument: True | False | None |
    alias}}; scikit-learn's ``clone`` copies the ``_metadata_request`` attribute through
    ``__sklearn_clone__``."""

    def __init__(self, requests=None):
        self.requests = {m: dict(r) for m, r in (requests or {}).items()}

    def __sklearn_clone__(self):
        return _Requests(self.requests)

    def __repr__(self):
        return f"_Requests({self.requests!r})"


def _request_setter(method, params):
    def set_request(self, **requests):
        unknown = sorted(set(requests) - set(params))
        if unknown:
            raise TypeError(f"set_{method}_request got {unknown}; {type(self).__name__}."
                            f"{method} takes {list(params)}")
        for name, value in requests.items():
            if not (value is None or isinstance(value, (bool, str))):
                raise ValueError(f"set_{method}_request({name}=...) takes True, False, None "
                                 f"or an alias (a str); got {value!r}")
        old = getattr(self, "_metadata_request", None)
        new = _Requests(old.requests if isinstance(old, _Requests) else None)
        new.requests.setdefault(method, {}).update(requests)
        self._metadata_request = new
        return self

    set_request.__name__ = set_request.__qualname__ = f"set_{method}_request"
    set_request.__doc__ = (
        f"Which of {method}'s arguments ({', '.join(params)}) a scikit-learn "
        "meta-estimator passes on when metadata routing is enabled: True (pass it), False "
        "(do not), None (an error if given: the default), or the name it is given under. "
        "Returns ``self``.")
    return set_request


OUTPUTS = ("default", "pandas", "polars")


class TransformerOutput:
    """``set_output`` for a transformer, as scikit-learn's (its ``Pipeline`` and
    ``ColumnTransformer`` call it): ``transform`` and ``fit_transform`` then return a
    pandas or polars DataFrame whose columns are ``get_feature_names_out()``.  Without a
    local choice, scikit-learn's global ``transform_output`` applies, read only when
    scikit-learn has been imported (otherwise nobody can have set it)."""

    def set_output(self, *, transform=None):
        """Choose what ``transform`` and ``fit_transform`` return: "default" (NumPy),
        "pandas", "polars", or None (leave the choice unchanged).  Returns ``self``."""
        if transform is None:
            return self
        if transform not in OUTPUTS:
            raise ValueError(f"set_output(transform=...) must be one of {OUTPUTS} or None; "
                             f"got {transform!r}")
        # scikit-learn's attribute: its clone() copies it to the clone
        self._sklearn_output_config = {"transform": transform}
        return self

    def _output(self):
        chosen = getattr(self, "_sklearn_output_config", {}).get("transform")
        if chosen is None:
            sklearn = sys.modules.get("sklearn")
            chosen = sklearn.get_config().get("transform_output", "default") if sklearn else \
                "default"
        return chosen

    def _wrap(self, out, X):
        """``out`` (n_samples, n_outputs) as the chosen container; a pandas frame keeps
        the index of a pandas ``X``."""
        kind = self._output()
        if kind == "default":
            return out
        columns = self.get_feature_names_out()
        try:
            lib = __import__(kind)
        except ImportError:
            raise ImportError(f"set_output(transform={kind!r}) needs {kind}, which is not "
                              f"installed: pip install {kind}") from None
        if kind == "polars":
            return lib.DataFrame(out, schema=list(columns), orient="row")
        index = X.index if isinstance(X, lib.DataFrame) else None
        return lib.DataFrame(out, index=index, columns=columns, copy=False)
