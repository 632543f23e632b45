#!/usr/bin/env bash
# scikit-learn's own GaussianMixture tests (sklearn/mixture/tests/test_gaussian_mixture.py
# of the installed scikit-learn, never copied here) against fastem.GaussianMixture, with
# their float32 variants; tests/sklearn_gaussian_mixture_suite.py lists what it excludes
# and why, and the run ends with the counts.  Runs after test.sh: its .venv, and the
# Numba cache that run left next to the installed fastem, so nothing is compiled here.
source "$(dirname "$0")/lib.sh"
[ -x .venv/bin/pytest ] || { echo "no .venv: run ci/test.sh first"; exit 1; }
start=$SECONDS
echo "+ SKLEARN_RUN_FLOAT32_TESTS=1 .venv/bin/pytest tests/sklearn_gaussian_mixture_suite.py"
SKLEARN_RUN_FLOAT32_TESTS=1 .venv/bin/pytest -q -p no:cacheprovider \
  tests/sklearn_gaussian_mixture_suite.py
echo "scikit-learn's GaussianMixture tests took $((SECONDS - start)) s"
