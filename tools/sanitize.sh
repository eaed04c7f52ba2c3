#!/usr/bin/env bash
# The sanitizer jobs of issue 10, each in its own build folder:
#   tools/sanitize.sh asan   the whole test suite under AddressSanitizer +
#                            UndefinedBehaviorSanitizer (gcc, preset asan)
#   tools/sanitize.sh tsan   the threaded code under ThreadSanitizer (clang,
#                            preset tsan): the async loader's thread, and
#                            every kernel, model and training test that runs
#                            on one and on two OpenMP threads
#   tools/sanitize.sh        both
# Any finding fails the job (UBSan and TSan halt on the first one).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

run_asan() {
  cmake --preset asan >/dev/null
  cmake --build --preset asan -j"$jobs"
  # LeakSanitizer stays on. A sanitized binary's startup check that ASan's
  # runtime comes first is turned off for the processes mpirun and python
  # start (they load it through LD_PRELOAD-free, uninstrumented parents).
  ASAN_OPTIONS="abort_on_error=0:detect_leaks=1:verify_asan_link_order=0" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    ctest --preset asan --timeout 1800 -j"$jobs"
}

# The tests that run threads: every kernel test runs with 1 and 2 OpenMP
# threads (tests/test_util.h), the model and training tests compare thread
# counts, AsyncLoader and the mapped loader own a reader thread. The library
# backends (OpenBLAS, oneDNN) are not instrumented and are left out.
TSAN_FILTER="Kernels*:Convert*:GemmLowp*:Model.*:ModelBlocks.*:MixedPrecision.*:AsyncLoader.*:DataLoader*:TextLoader*"
TSAN_FILTER+=":GradientAverager.*:Communicator.*:OptimAdamW.*:Train.*:TrainAccumulation.*:NonFiniteStep.*:Prepare.*"
TSAN_FILTER+=":-*Blas*:*OneDnn*:*onednn*:*blas*"

run_tsan() {
  cmake --preset tsan >/dev/null
  cmake --build --preset tsan -j"$jobs" --target cpu_llm_tests
  # Archer tells TSan about OpenMP's barriers and tasks, so the runtime's
  # own synchronization is not reported as races.
  local archer
  archer=$(clang++ -print-file-name=libarcher.so)
  [ -f "$archer" ] || archer=/usr/lib/llvm-14/lib/libarcher.so
  OMP_TOOL_LIBRARIES="$archer" TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1" \
    build/tsan/tests/cpu_llm_tests --gtest_filter="$TSAN_FILTER" --gtest_brief=1
}

case "${1:-all}" in
  asan) run_asan ;;
  tsan) run_tsan ;;
  all) run_asan; run_tsan ;;
  *) echo "usage: tools/sanitize.sh [asan|tsan]" >&2; exit 2 ;;
esac
