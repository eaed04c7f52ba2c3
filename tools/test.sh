#!/usr/bin/env bash
# Installs, builds and runs every test: the release suite (PyTorch parity
# included; the parity tests read committed fixtures and need no torch), then
# the reliability jobs of docs/RELIABILITY.md, each in its own build folder:
# a fuzz smoke of every file parser (docs/FUZZING.md), the whole suite under
# ASan + UBSan, and the threaded tests under TSan (tools/sanitize.sh).
#   tools/test.sh                 all of it (what CI runs)
#   TEST_JOBS=release tools/test.sh   only the release suite (any subset of
#                                 "release fuzz asan tsan")
# Arguments go to the release suite's ctest (e.g. -R Cli).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=" ${TEST_JOBS:-release fuzz asan tsan} "
bash tools/install_deps.sh
stamp() { echo "== $(date -u +%T) $*"; }
if [[ $jobs == *" release "* ]]; then
  stamp "release build + suite"
  bash tools/build.sh
  ctest --preset release --timeout 900 -j"$(nproc)" "$@"
fi
if [[ $jobs == *" fuzz "* ]]; then
  stamp "fuzz smoke"
  bash tools/fuzz.sh smoke
fi
if [[ $jobs == *" asan "* ]]; then
  stamp "ASan + UBSan suite"
  bash tools/sanitize.sh asan
fi
if [[ $jobs == *" tsan "* ]]; then
  stamp "TSan on the threaded tests"
  bash tools/sanitize.sh tsan
fi
stamp "all test jobs passed:$jobs"
