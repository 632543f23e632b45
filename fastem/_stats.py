"""Sufficient statistics: what one E-step over some rows yields, and what an M-step needs.

Statistics of disjoint sets of rows add up (``a + b``, or ``sum([a, b, c])``): an E-step
over any split of the data, summed, is the E-step over all of it, up to floating-point
rounding (the same split, added in the same order, gives the same bits).  So EM can run
wherever the rows are: in chunks of a file, on the blocks of a Dask array, on another
engine altogether::

    stats = sum(model.e_step_stats(chunk) for chunk in chunks)   # at model's parameters
    model.m_step(stats)                                          # new parameters

Every array is float64, whatever the data's dtype.
"""

import numpy as np

_COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


def _f64(a, name, shape):
    out = np.array(a, dtype=np.float64)  # a copy: a statistics value owns its arrays
    if out.shape != shape:
        raise ValueError(f"{name} must have shape {shape}; got {out.shape}")
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{name} must be finite")
    return out


class _Stats:
    """Shared arithmetic: addition (also with the 0 that ``sum`` starts from)."""

    __slots__ = ()

    def __radd__(self, other):
        if isinstance(other, (int, float)) and other == 0:
            return self
        return NotImplemented

    def _check_same(self, other):
        if type(other) is not type(self):
            raise TypeError(f"cannot add {type(other).__name__} to {type(self).__name__}")
        if self._kind() != other._kind():
            raise ValueError(
                f"statistics of different models cannot be added: {self._kind()} and "
                f"{other._kind()}"
            )

    @property
    def mean_loglik(self):
        """Mean log-likelihood per unit of row weight (``loglik / weight``)."""
        return self.loglik / self.weight if self.weight > 0 else -np.inf


class GaussianStats(_Stats):
    """Sufficient statistics of a Gaussian mixture's E-step over some rows.

    With responsibilities r_ic (or the mode's one-hot weights) at the parameters of the
    E-step, row weights w_i, and reference points ``ref`` (k, d) (the E-step's means):

    Attributes
    ----------
    covariance_type : {"full", "tied", "diag", "spherical"}
    nk : ndarray of shape (k,)
        sum_i w_i r_ic.
    s1 : ndarray of shape (k, d)
        sum_i w_i r_ic (x_i - ref_c).
    s2 : ndarray
        "full": (k, d, d) sum_i w_i r_ic (x_i - ref_c)(x_i - ref_c)^T; "tied": (d, d)
        sum_i w_i (x_i - center)(x_i - center)^T; "diag" and "spherical": (k, d)
        sum_i w_i r_ic (x_i - ref_c)^2.
    ref : ndarray of shape (k, d)
        The reference points of ``s1`` and ``s2``.
    center : ndarray of shape (d,)
        The reference point of the tied ``s2`` (the E-step's weighted mean of the means).
    loglik : float
        sum_i w_i log p(x_i) at the E-step's parameters.
    weight : float
        sum_i w_i.
    n_changed : int
        Rows whose label changed (hard EM with labels tracked; else 0).

    Moments about a reference point, not raw moments: a variance is then not the small
    difference of two large numbers (data far from 0, float32).  Statistics about other
    references add exactly all the same: the second term is moved to the first's
    references (``about``) before the sum.
    """

    __slots__ = ("covariance_type", "nk", "s1", "s2", "ref", "center", "loglik", "weight",
                 "n_changed")

    def __init__(self, covariance_type, nk, s1, s2, ref, center, loglik, weight, n_changed=0):
        if covariance_type not in _COVARIANCE_TYPES:
            raise ValueError(f"covariance_type must be one of {_COVARIANCE_TYPES}; got "
                             f"{covariance_type!r}")
        self.covariance_type = covariance_type
        self.ref = _f64(ref, "ref", np.shape(ref))
        if self.ref.ndim != 2:
            raise ValueError(f"ref must be 2-D (n_components, n_features); got {self.ref.shape}")
        k, d = self.ref.shape
        self.nk = _f64(nk, "nk", (k,))
        self.s1 = _f64(s1, "s1", (k, d))
        shape = {"full": (k, d, d), "tied": (d, d)}.get(covariance_type, (k, d))
        self.s2 = _f64(s2, "s2", shape)
        self.center = _f64(center, "center", (d,))
        self.loglik = float(loglik)
        self.weight = float(weight)
        self.n_changed = int(n_changed)
        if np.any(self.nk < 0) or self.weight < 0:
            raise ValueError("nk and weight must be non-negative")

    @classmethod
    def _trusted(cls, covariance_type, nk, s1, s2, ref, center, loglik, weight, n_changed):
        """Internal: the fields as given (the kernels' own float64 arrays), unchecked."""
        out = cls.__new__(cls)
        out.covariance_type, out.nk, out.s1, out.s2 = covariance_type, nk, s1, s2
        out.ref, out.center, out.loglik = ref, center, float(loglik)
        out.weight, out.n_changed = float(weight), int(n_changed)
        return out

    def _kind(self):
        return ("gaussian", self.covariance_type, self.ref.shape)

    def _scaled(self, a):
        """Every sum times ``a`` (stepwise EM's running average); references kept."""
        return GaussianStats._trusted(self.covariance_type, self.nk * a, self.s1 * a,
                                      self.s2 * a, self.ref, self.center, self.loglik * a,
                                      self.weight * a, 0)

    def __repr__(self):
        k, d = self.ref.shape
        return (f"GaussianStats({self.covariance_type!r}, k={k}, d={d}, weight={self.weight:g}, "
                f"loglik={self.loglik:.6g})")

    def about(self, ref, center=None):
        """The same statistics about other reference points (exact algebra: only rounding
        differs).  ``center`` is the tied second moment's new reference (default: kept)."""
        ref = _f64(ref, "ref", self.ref.shape)
        center = self.center if center is None else _f64(center, "center", self.center.shape)
        delta = self.ref - ref  # (x - ref_new) = (x - ref_old) + delta
        nk, s1 = self.nk, self.s1
        s1_new = s1 + nk[:, None] * delta
        ct = self.covariance_type
        if ct == "full":
            s2 = (self.s2 + s1[:, :, None] * delta[:, None, :] + delta[:, :, None] * s1[:, None, :]
                  + nk[:, None, None] * delta[:, :, None] * delta[:, None, :])
        elif ct == "tied":
            # first moment of all rows about the old centre: sum_c s1_c + nk_c (ref_c - z)
            u = s1.sum(axis=0) + (nk[:, None] * (self.ref - self.center)).sum(axis=0)
            e = self.center - center
            s2 = self.s2 + np.outer(u, e) + np.outer(e, u) + nk.sum() * np.outer(e, e)
        else:
            s2 = self.s2 + 2.0 * s1 * delta + nk[:, None] * delta * delta
        return GaussianStats._trusted(ct, nk, s1_new, s2, ref, center, self.loglik, self.weight,
                                      self.n_changed)

    def __add__(self, other):
        if not isinstance(other, _Stats):
            return NotImplemented
        self._check_same(other)
        if not (np.array_equal(other.ref, self.ref) and np.array_equal(other.center, self.center)):
            other = other.about(self.ref, self.center)
        return GaussianStats._trusted(self.covariance_type, self.nk + other.nk,
                                      self.s1 + other.s1, self.s2 + other.s2, self.ref,
                                      self.center, self.loglik + other.loglik,
                                      self.weight + other.weight,
                                      self.n_changed + other.n_changed)


class BinomialStats(_Stats):
    """Sufficient statistics of a binomial mixture's E-step over some rows.

    Attributes
    ----------
    nk : ndarray of shape (k,)
        sum_i w_i r_ic.
    sx : ndarray of shape (k, d)
        sum_i w_i r_ic x_ij (successes).
    st : ndarray of shape (k, d)
        sum_i w_i r_ic t_ij (trials).
    loglik : float
        sum_i w_i log p(x_i), binomial coefficients included.
    weight : float
        sum_i w_i.
    n_changed : int
        Rows whose label changed (hard EM with labels tracked; else 0).
    """

    __slots__ = ("nk", "sx", "st", "loglik", "weight", "n_changed")

    def __init__(self, nk, sx, st, loglik, weight, n_changed=0):
        self.sx = _f64(sx, "sx", np.shape(sx))
        if self.sx.ndim != 2:
            raise ValueError(f"sx must be 2-D (n_components, n_features); got {self.sx.shape}")
        k, d = self.sx.shape
        self.nk = _f64(nk, "nk", (k,))
        self.st = _f64(st, "st", (k, d))
        self.loglik = float(loglik)
        self.weight = float(weight)
        self.n_changed = int(n_changed)
        if np.any(self.nk < 0) or np.any(self.sx < 0) or np.any(self.st < self.sx):
            raise ValueError("nk and sx must be non-negative and st (trials) at least sx")

    @classmethod
    def _trusted(cls, nk, sx, st, loglik, weight, n_changed):
        """Internal: the fields as given, unchecked."""
        out = cls.__new__(cls)
        out.nk, out.sx, out.st = nk, sx, st
        out.loglik, out.weight, out.n_changed = float(loglik), float(weight), int(n_changed)
        return out

    def _kind(self):
        return ("binomial", self.sx.shape)

    def _scaled(self, a):
        """Every sum times ``a`` (stepwise EM's running average)."""
        return BinomialStats._trusted(self.nk * a, self.sx * a, self.st * a, self.loglik * a,
                                      self.weight * a, 0)

    def __repr__(self):
        k, d = self.sx.shape
        return f"BinomialStats(k={k}, d={d}, weight={self.weight:g}, loglik={self.loglik:.6g})"

    def __add__(self, other):
        if not isinstance(other, _Stats):
            return NotImplemented
        self._check_same(other)
        return BinomialStats._trusted(self.nk + other.nk, self.sx + other.sx,
                                      self.st + other.st, self.loglik + other.loglik,
                                      self.weight + other.weight,
                                      self.n_changed + other.n_changed)
