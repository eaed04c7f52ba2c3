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
  # verify_asan_link_order=0: mpirun's rank processes and the python the
  # tests may start are uninstrumented parents of instrumented children.
  local asan="abort_on_error=0:detect_leaks=1:verify_asan_link_order=0"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  # Everything but the mpirun tests, LeakSanitizer on and nothing suppressed.
  # Left out to fit CI's time: the two longest benchmark drivers (each runs
  # the trainer for minutes of timed repeats here; the bench code they use is
  # also run by the CliBench tests that stay).
  local slow='^CliBench\.(ArchComparesVariantsAtEqualTime|DataIoAndAccumCurveMeasureAndReport)$'
  ASAN_OPTIONS="$asan" ctest --preset asan --timeout 1800 -j"$jobs" -E "^CliDist\.|$slow"
  # The mpirun tests: OpenMPI keeps memory until exit on purpose, so its
  # libraries are suppressed (tools/lsan.supp). Full unwinding and components
  # kept loaded give the leak reports the library frames to match; a leak
  # that starts in cpu_llm's code still fails.
  ASAN_OPTIONS="$asan:fast_unwind_on_malloc=0" LSAN_OPTIONS="suppressions=$PWD/tools/lsan.supp" \
  OMPI_MCA_mca_base_component_disable_dlclose=1 \
    ctest --preset asan --timeout 1800 -j"$jobs" -R '^CliDist\.' -E '^CliDist\.BenchComparesRanksAndThreads$'
}

# The tests that run threads: every kernel test runs with 1 and 2 OpenMP
# threads (tests/test_util.h), the model and training tests compare thread
# counts, AsyncLoader and the mapped loader own a reader thread. The library
# backends (OpenBLAS, oneDNN) are not instrumented and are left out.
TSAN_FILTER="Kernels*:Convert*:GemmLowp*:Model.*:ModelBlocks.*:MixedPrecision.*:AsyncLoader.*:DataLoader*:TextLoader*"
TSAN_FILTER+=":GradientAverager.*:Communicator.*:OptimAdamW.*:Train.*:TrainAccumulation.*:TrainProfile.*:NonFiniteStep.*:Prepare.*"
TSAN_FILTER+=":*Parity.*:*DataLoaderAccess.*:Generation.*:AnomalyDetector.*"
TSAN_FILTER+=":-*Blas*:*OneDnn*:*onednn*:*blas*"

run_tsan() {
  cmake --preset tsan >/dev/null
  cmake --build --preset tsan -j"$jobs" --target cpu_llm_tests
  # Archer tells TSan about OpenMP's barriers and tasks, so the runtime's
  # own synchronization is not reported as races.
  local archer
  archer=$(clang++ -print-file-name=libarcher.so)
  [ -f "$archer" ] || archer=/usr/lib/llvm-14/lib/libarcher.so
  OMP_TOOL_LIBRARIES="$archer" TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:ignore_noninstrumented_modules=1" \
    build/tsan/tests/cpu_llm_tests --gtest_filter="$TSAN_FILTER" --gtest_brief=1
}

case "${1:-all}" in
  asan) run_asan ;;
  tsan) run_tsan ;;
  all) run_asan; run_tsan ;;
  *) echo "usage: tools/sanitize.sh [asan|tsan]" >&2; exit 2 ;;
esac
