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
