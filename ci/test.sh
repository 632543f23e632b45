#!/usr/bin/env bash
# Fresh virtualenv, test extras, the README's test command (read from the README).
source "$(dirname "$0")/lib.sh"
rm -rf .venv
cmd=$(readme_command test-command)
[ -n "$cmd" ] || { echo "README has no test command"; exit 1; }
echo "+ $cmd"
bash -c "$cmd"
