"""fastem: Numba-compiled Expectation-Maximization for mixture models."""

from ._em import ConvergenceWarning
from ._version import __version__
from .binomial import BinomialMixture
from .gaussian import GaussianMixture
from ._warmup import warmup

__all__ = ["BinomialMixture", "ConvergenceWarning", "GaussianMixture", "__version__", "warmup"]
