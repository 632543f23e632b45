"""fastem's exception and warning classes.

Code written against scikit-learn catches ``sklearn.exceptions.NotFittedError`` and
filters ``sklearn.exceptions.ConvergenceWarning``.  fastem never imports scikit-learn,
but when it is already loaded in the process, what fastem raises or warns is also an
instance (a subclass) of scikit-learn's class of the same name, so that such code works
unchanged.  Without scikit-learn the plain classes below are used.
"""

import sys

__all__ = ["ConvergenceWarning", "NotFittedError"]


class NotFittedError(ValueError, AttributeError):
    """A method that needs fitted parameters was called before ``fit``.

    A ValueError and an AttributeError, as scikit-learn's ``NotFittedError`` is.
    """


class ConvergenceWarning(UserWarning):
    """Soft or hard EM stopped at ``max_iter`` before meeting its stopping rule."""


_BRIDGES = {}


def _reduce_to_base(self):
    # A bridge class is made at run time and cannot be found by pickle (joblib sends
    # errors between processes): travel as the plain fastem class.
    return (self._fastem_base, self.args)


def _with_sklearn(cls):
    """``cls``, or a subclass of ``cls`` and of scikit-learn's class of the same name if
    ``sklearn.exceptions`` is loaded (looked up, never imported)."""
    module = sys.modules.get("sklearn.exceptions")
    theirs = getattr(module, cls.__name__, None)
    if not isinstance(theirs, type) or issubclass(cls, theirs):
        return cls
    bridge = _BRIDGES.get((cls, theirs))
    if bridge is None:
        bridge = type(cls.__name__, (cls, theirs), {
            "__module__": cls.__module__, "__qualname__": cls.__qualname__,
            "__doc__": cls.__doc__, "_fastem_base": cls, "__reduce__": _reduce_to_base,
        })
        _BRIDGES[(cls, theirs)] = bridge
    return bridge


def not_fitted_error(estimator):
    """The error for an unfitted ``estimator``, in scikit-learn's words."""
    return _with_sklearn(NotFittedError)(
        f"This {type(estimator).__name__} instance is not fitted yet. Call 'fit' with "
        "appropriate arguments before using this estimator."
    )


def convergence_warning_category():
    """The category to warn with (see the module docstring)."""
    return _with_sklearn(ConvergenceWarning)
