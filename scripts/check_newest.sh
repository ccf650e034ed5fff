#!/usr/bin/env bash
# Drift check, not CI: install socdbg the way a user does (pip install -e '.[dev]') into a
# throwaway virtual environment, with the newest releases pyproject.toml's ranges allow instead
# of the lock's pins, and run the whole suite (ruff, mypy, pytest) there. A failure here is what
# the next `bash scripts/lock.sh --upgrade` would bring into CI, seen early.
#
#   bash scripts/check_newest.sh             # newest releases
#   bash scripts/check_newest.sh --lowest    # the lowest releases pyproject.toml allows for
#                                            # socdbg's direct dependencies (its lower bounds)
#   bash scripts/check_newest.sh -- -x tests/test_docs_commands.py   # arguments for pytest
#
# It prints what differs from the lock, then the suite's summary. The environment is deleted
# afterwards; the checkout's own .venv-test is not touched.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=newest
if [ "${1:-}" = "--lowest" ]; then mode=lowest; shift; fi
if [ "${1:-}" = "--" ]; then shift; fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
pip=("$tmp/venv/bin/python" -m pip --quiet --disable-pip-version-check --no-input)
if [ "$mode" = newest ]; then
    "${pip[@]}" install --upgrade pip
    "${pip[@]}" install --upgrade --upgrade-strategy eager -e '.[dev]'
else
    "${pip[@]}" install uv
    VIRTUAL_ENV="$tmp/venv" "$tmp/venv/bin/uv" pip install --quiet --resolution lowest-direct \
        -e '.[dev]'
fi

echo "== $mode releases that differ from requirements-test.txt"
"$tmp/venv/bin/python" -m pip freeze --exclude-editable --disable-pip-version-check \
    | python3 scripts/lockfile.py diff

export VIRTUAL_ENV="$tmp/venv"
export PATH="$tmp/venv/bin:$PATH"
unset PYTHONPATH PYTHONHOME PYTHONSTARTUP
status=0
echo "== ruff"; ruff check . || status=1
echo "== mypy"; mypy || status=1
echo "== pytest"; python -m pytest -q -p no:cacheprovider "$@" || status=1
if [ $status -eq 0 ]; then
    echo "== the suite passes with the $mode releases"
else
    echo "== the suite FAILS with the $mode releases (see above)"
fi
exit $status
