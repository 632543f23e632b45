#!/usr/bin/env bash
# The kernel and estimator tests once more with Numba's bounds checks compiled in, so an
# out-of-bounds index anywhere is an IndexError here instead of silent memory corruption.
# The kernels are serial functions (run on Python threads), so such an exception reaches
# the caller.  The checked machine code gets a cache of its own: Numba's cache key does
# not include the bounds-check flag.  NUMBA_OPT=0:
# the data are small, and unoptimised code compiles in about half the time (the same
# bounds checks; a few functions then skip the cache, hence the filtered warning).
source "$(dirname "$0")/lib.sh"
cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT
echo "+ NUMBA_BOUNDSCHECK=1 .venv/bin/pytest (kernel and estimator tests)"
NUMBA_BOUNDSCHECK=1 NUMBA_OPT=0 NUMBA_CACHE_DIR="$cache" FASTEM_HYPOTHESIS_EXAMPLES=10 \
  .venv/bin/pytest -q -p no:cacheprovider -W "ignore:Cannot cache compiled function" \
  tests/test_kernels_gaussian.py tests/test_kernels_binomial.py tests/test_kernels_safety.py \
  tests/test_gaussian.py tests/test_binomial.py tests/test_safety.py \
  tests/test_properties_gaussian.py tests/test_properties_binomial.py \
  tests/test_kernels_missing.py tests/test_missing_gaussian.py tests/test_missing_binomial.py
