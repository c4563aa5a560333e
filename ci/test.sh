#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine (the README's test
# command; .ci/run calls exactly this):
#   1. gcc build: every CUnit suite under each start method (CTest)
#   2. clang ASan+UBSan build: the same tests
#   3. clang ThreadSanitizer build: the same tests (data races)
#   4. MinGW build: the same suites (spawn, thread) under Wine
# Installs whatever is missing first.  Build trees go to build/.
set -euo pipefail
cd "$(dirname "$0")/.."

ci/deps.sh build-essential cmake clang libclang-rt-14-dev libcunit1-dev pkg-config

jobs=$(nproc 2>/dev/null || echo 2)
run_suite() { # name, build dir, cmake args...
  local name=$1 dir=$2
  shift 2
  echo "=== $name"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
  (cd "$dir" && ctest -j"$jobs" --output-on-failure --timeout 900)
}

run_suite "native (gcc)" build/gcc -DCMAKE_C_COMPILER=gcc
# halt_on_error: any finding fails the test; detect_leaks covers spawned children too.
ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=0 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  run_suite "ASan+UBSan (clang)" build/asan -DCMAKE_C_COMPILER=clang -DMPROC_SANITIZE=ON
# A race report makes the test's exit status nonzero (TSan's exitcode=66).
TSAN_OPTIONS=halt_on_error=0:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp \
  run_suite "ThreadSanitizer (clang)" build/tsan -DCMAKE_C_COMPILER=clang -DMPROC_TSAN=ON
echo "=== MinGW under Wine"
ci/windows.sh build/mingw
echo "=== all test suites passed"
