#!/usr/bin/env bash
# Regenerate requirements-test.txt, the lock scripts/test.sh builds the test environment from:
# every package of socdbg's dependencies and its dev extra (the build backend included), pinned
# with hashes, for Python 3.11+ on any platform (uv's universal resolution).
#
#   bash scripts/lock.sh                          # after changing pyproject.toml: keeps the
#                                                 # other pins, adds what is new
#   bash scripts/lock.sh --upgrade                # move every pin to the newest release
#   bash scripts/lock.sh --upgrade-package click  # move one
#
# uv is installed from PyPI into a throwaway virtual environment; nothing else is touched.
set -euo pipefail
cd "$(dirname "$0")/.."

tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
python3 -m venv "$tools/venv"
"$tools/venv/bin/python" -m pip install --quiet --disable-pip-version-check uv
"$tools/venv/bin/uv" pip compile pyproject.toml --extra dev --generate-hashes --universal \
    --python-version 3.11 --custom-compile-command "bash scripts/lock.sh" \
    --output-file requirements-test.txt --quiet "$@"
python3 scripts/lockfile.py stamp
echo "wrote requirements-test.txt"
