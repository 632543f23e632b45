#!/usr/bin/env bash
# The kernel tests once more with the JIT off, so the kernel bodies run as plain Python.
source "$(dirname "$0")/lib.sh"
echo "+ NUMBA_DISABLE_JIT=1 .venv/bin/pytest -m kernels"
NUMBA_DISABLE_JIT=1 .venv/bin/pytest -q -m kernels
