#!/usr/bin/env bash
# Builds mproc with clang and a sanitizer and runs the test suite.
#
#   ci/sanitize.sh asan [BUILD_DIR]   ASan+UBSan (default build/asan)
#   ci/sanitize.sh tsan [BUILD_DIR]   ThreadSanitizer (default build/tsan)
#
# BUILD_DIR is relative to the repo root.  Debian/Ubuntu: installs clang, its
# sanitizer runtimes and CUnit first.  Any sanitizer finding fails the test
# that produced it.  On kernels with more than 28 bits of mmap randomization
# (Ubuntu 24.04) TSan needs `sysctl vm.mmap_rnd_bits=28` first.
set -euo pipefail
cd "$(dirname "$0")/.."
. ci/lib.sh

kind="${1:-}"
case "$kind" in
  asan)
    build="${2:-build/asan}"
    stage="ASan+UBSan (clang)"
    flag=-DMPROC_SANITIZE=ON
    # halt_on_error: any finding fails the test; detect_leaks covers spawned children too.
    export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=0
    export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
    ;;
  tsan)
    build="${2:-build/tsan}"
    stage="ThreadSanitizer (clang)"
    flag=-DMPROC_TSAN=ON
    # A race report makes the test's exit status nonzero (TSan's exitcode=66).
    export TSAN_OPTIONS="halt_on_error=0:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp"
    ;;
  *) die "usage: ci/sanitize.sh asan|tsan [BUILD_DIR]" ;;
esac

# A process start under a sanitizer costs 20-200x a plain one: leak tests
# run a tenth of their cycles (tests/testutil.h, tu_cycles); the gcc,
# fallback and musl stages run them all.
export MPROC_TEST_SCALE="${MPROC_TEST_SCALE:-10}"

ci/deps.sh clang libclang-rt-dev cmake libcunit1-dev
CI_STAGE="${CI_STAGE:-$stage}" ci/build-and-test.sh "$build" -DCMAKE_C_COMPILER=clang "$flag"
# A child that leaves through _exit (fork and forkserver children do) skips
# the sanitizer's exit code: its report only shows in the test's output.
log="$build/Testing/Temporary/LastTest.log"
if grep -nE "WARNING: ThreadSanitizer|ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$log"; then
  die "$stage: sanitizer reports in the tests' output (above, from $log)"
fi
echo "$stage: no sanitizer report in any process's output"
