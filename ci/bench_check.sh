#!/usr/bin/env bash
# The asv suite must stay importable and well-formed: `asv check` on the small profile.
source "$(dirname "$0")/lib.sh"
.venv/bin/pip install --quiet ".[bench]"
cd asv_bench
../.venv/bin/asv machine --yes > /dev/null
echo "+ FASTEM_BENCH_PROFILE=small asv check --python=same"
FASTEM_BENCH_PROFILE=small ../.venv/bin/asv check --python=same
