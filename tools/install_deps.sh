#!/usr/bin/env bash
# Installs the Debian packages cpu_llm needs to build and test. Installs only
# what is missing, so it is quick on a machine that already has them.
set -euo pipefail

PACKAGES=(
  g++ cmake make pkg-config
  libcli11-dev nlohmann-json3-dev libfmt-dev zlib1g-dev libpcre2-dev
  libgtest-dev libbenchmark-dev
  # Runs tools/test_flamegraph.py in the test suite and the bench's PyTorch script.
  python3
  # Google Highway: the SIMD kernels, compiled per target, dispatched at run time.
  libhwy-dev
  # The BLAS backends (plan item 9): OpenBLAS's OpenMP build, which cpu_llm
  # links, and oneDNN. libopenblas-dev (the pthread build, the system default)
  # gives Debian's python3-torch an optimized libblas.so.3 for the bench's
  # PyTorch comparison.
  libopenblas-dev libopenblas-openmp-dev libdnnl-dev
  # Data-parallel training across processes and machines (issue 9): mpirun and
  # the MPI library; the build is single-process without them.
  openmpi-bin libopenmpi-dev
  # The fuzz preset (tools/fuzz.sh, docs/FUZZING.md): clang with libFuzzer and its OpenMP runtime.
  clang libclang-rt-14-dev libomp-14-dev
  # PyTorch (CPU): the export tests load a safetensors export into a plain
  # torch GPT-2/Llama (tools/hf_gpt2_loss.py) and compare its loss with
  # cpu_llm's; the scripts that regenerate the parity fixtures need it too.
  python3-torch python3-numpy
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
echo "installing: ${missing[*]}"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
