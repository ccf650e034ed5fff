#!/usr/bin/env bash
# Install everything the test suite needs (Python packages; OS packages when missing), then run
# the whole suite: ruff, mypy, pytest. The README's test command and .ci/run both call this.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check -e '.[dev]'

# OS packages the tests use, installed only when missing (Debian).
need=()
command -v tmux >/dev/null 2>&1 || need+=(tmux)
command -v riscv64-unknown-elf-gcc >/dev/null 2>&1 || need+=(gcc-riscv64-unknown-elf)
command -v qemu-system-riscv64 >/dev/null 2>&1 || need+=(qemu-system-misc)
command -v qemu-system-arm >/dev/null 2>&1 || need+=(qemu-system-arm)
command -v gdb-multiarch >/dev/null 2>&1 || need+=(gdb-multiarch)
if [ ${#need[@]} -gt 0 ]; then
    if command -v apt-get >/dev/null 2>&1; then
        SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
    else
        echo "missing OS packages (${need[*]}) and no apt-get to install them" >&2
        exit 1
    fi
fi

echo "== ruff"; ruff check .
echo "== mypy"; mypy
echo "== pytest"; python3 -m pytest -q "$@"
