#!/usr/bin/env bash
# The README's demo command, as a new user would run it.
source "$(dirname "$0")/lib.sh"
cmd=$(readme_command demo-command)
[ -n "$cmd" ] || { echo "README has no demo command"; exit 1; }
echo "+ $cmd"
bash -c "$cmd"
