"""fastem: Numba-compiled Expectation-Maximization for mixture models."""

from .exceptions import ConvergenceWarning, NotFittedError
from ._version import __version__
from .binomial import BinomialMixture
from .gaussian import GaussianMixture
from .kmeans import KMeans
from .selection import BinomialMixtureSelection, GaussianMixtureSelection
from ._stats import BinomialStats, GaussianStats
from ._warmup import warmup
from .io import load

__all__ = [
    "BinomialMixture", "BinomialMixtureSelection", "BinomialStats", "ConvergenceWarning",
    "GaussianMixture", "GaussianMixtureSelection", "GaussianStats", "KMeans", "NotFittedError",
    "__version__", "load", "warmup",
]
