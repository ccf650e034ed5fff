#!/usr/bin/env bash
# Run the whole test suite (ruff, mypy, pytest) in socdbg's own test environment: the README's
# test command, and what .ci/run calls.
#
# 1. OS packages the tests use are installed when missing (Debian: apt-get, with sudo when not
#    root), python3-venv included when this Python cannot make a virtual environment.
# 2. .venv-test/ (git ignores it) is built from the lock, requirements-test.txt: every package
#    pinned with its hashes, then socdbg installed editable from this checkout, with no build
#    isolation (so the build backend comes from the lock too). It is rebuilt when the lock, the
#    Python or pyproject.toml changed, and left alone otherwise. Nothing of the system Python's
#    packages is used, whatever it has installed.
# 3. ruff, mypy, lint-imports (the layers contract) and pytest run from that environment, with
#    its bin/ first on PATH so that tests starting `socdbg` or `python3 -m socdbg` run the same
#    interpreter.
#
# Arguments go to pytest: bash scripts/test.sh -x tests/test_regmap_loader.py
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV="$ROOT/.venv-test"
LOCK=requirements-test.txt
PY=${PYTHON:-python3}

apt_install() {
    if command -v apt-get >/dev/null 2>&1; then
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@"
    else
        echo "missing OS packages ($*) and no apt-get to install them" >&2
        exit 1
    fi
}

# --- OS packages the tests use, installed only when missing (Debian) ---------------------------
need=()
command -v tmux >/dev/null 2>&1 || need+=(tmux)
command -v riscv64-unknown-elf-gcc >/dev/null 2>&1 || need+=(gcc-riscv64-unknown-elf)
command -v qemu-system-riscv64 >/dev/null 2>&1 || need+=(qemu-system-misc)
command -v qemu-system-arm >/dev/null 2>&1 || need+=(qemu-system-arm)
command -v gdb-multiarch >/dev/null 2>&1 || need+=(gdb-multiarch)
# the rtl: target (tests/test_rtl.py): Verilator 5.006+ and the C++ toolchain it builds with
command -v verilator >/dev/null 2>&1 || need+=(verilator)
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)
if [ ${#need[@]} -gt 0 ]; then
    apt_install "${need[@]}"
fi

# --- the test environment, from the lock ---------------------------------------------------------
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "socdbg needs Python 3.11 or newer; $PY is older (set PYTHON=python3.X)" >&2
    exit 1
fi
"$PY" scripts/lockfile.py check
lock_key=$({ "$PY" -c 'import sys; print(sys.executable, sys.version)'; cat "$LOCK"; } \
           | sha256sum | cut -d' ' -f1)
self_key=$(cat pyproject.toml | sha256sum | cut -d' ' -f1)
pip=("$VENV/bin/python" -m pip --quiet --disable-pip-version-check --no-input)
if [ "$(cat "$VENV/.lock-key" 2>/dev/null)" != "$lock_key" ]; then
    echo "== building $VENV from $LOCK"
    rm -rf "$VENV"
    if ! "$PY" -m venv "$VENV" >/dev/null 2>&1; then
        # Debian's python3 makes virtual environments only with python3-venv installed
        rm -rf "$VENV"
        apt_install python3-venv
        "$PY" -m venv "$VENV"
    fi
    "${pip[@]}" install --require-hashes --no-deps -r "$LOCK"
    echo "$lock_key" > "$VENV/.lock-key"
fi
if [ "$(cat "$VENV/.self-key" 2>/dev/null)" != "$self_key" ] \
        || [ ! -x "$VENV/bin/socdbg" ]; then
    echo "== installing socdbg (editable) into $VENV"
    "${pip[@]}" install --no-deps --no-build-isolation -e .
    echo "$self_key" > "$VENV/.self-key"
fi
if ! broken=$("$VENV/bin/python" -m pip check --disable-pip-version-check 2>&1); then
    echo "$broken" >&2
    echo "$VENV is inconsistent: delete it and run this again" >&2
    exit 1
fi

export VIRTUAL_ENV="$VENV"
export PATH="$VENV/bin:$PATH"
unset PYTHONPATH PYTHONHOME PYTHONSTARTUP

echo "== ruff"; ruff check .
echo "== mypy"; mypy
echo "== import-linter (the layers, docs/architecture.md)"; lint-imports --no-cache
echo "== pytest"; python -m pytest -q "$@"
