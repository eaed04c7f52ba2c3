#!/usr/bin/env bash
# The main job: install, build, train a small GPT-2 on the bundled corpus
# (the King James Bible, GPT-2 BPE tokens), then print a sample.
# Extra arguments go to `cpu_llm train` (try --help).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install_deps.sh
bash tools/build.sh
./build/release/cpu_llm train --out runs/demo "$@"
