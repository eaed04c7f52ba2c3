#!/usr/bin/env bash
# Installs, builds and runs the whole test suite (PyTorch parity included; the
# parity tests read committed fixtures and need no torch).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install_deps.sh
bash tools/build.sh
ctest --preset release --timeout 900 "$@"
