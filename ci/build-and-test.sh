#!/usr/bin/env bash
# Configures, builds and tests mproc in one build tree, then lists the
# skipped tests (ci/report-skips.sh).  The one build-and-test step of every
# CI leg: Linux, macOS, Windows MSVC (Git Bash), MSYS2, musl, MinGW/Wine.
#
#   ci/build-and-test.sh BUILD_DIR [CMAKE_ARG...]
#     ci/build-and-test.sh build/gcc -DCMAKE_C_COMPILER=gcc
#     CI_METHOD=spawn ci/build-and-test.sh build -A x64 -DCUNIT_ROOT=C:/...
#
# BUILD_DIR is relative to the repository root (or absolute); the script only
# hands relative paths to cmake, so it also works in Git Bash with MSYS path
# conversion off.  Environment:
#   CI_STAGE       name in the log and the skip report (default: BUILD_DIR)
#   CI_BUILD_TYPE  CMAKE_BUILD_TYPE, and the --config / -C of multi-config
#                  generators (Visual Studio, Xcode); default RelWithDebInfo
#   CI_METHOD      fork|spawn|forkserver|thread: run only that start method's
#                  tests (<suite>.<method>) and the plain suites (no dot in
#                  their names); default: every test
#   CI_CTEST_JOBS  tests run in parallel (default: the number of CPUs)
#   CC, CFLAGS...  read by CMake itself on the first configure
# Exits nonzero when a step fails or no test matches.  Bash 3.2 compatible.
set -euo pipefail
cd "$(dirname "$0")/.."
. ci/lib.sh

[ $# -ge 1 ] || die "usage: ci/build-and-test.sh BUILD_DIR [CMAKE_ARG...]"
build="$1"
shift
stage="${CI_STAGE:-$build}"
config="${CI_BUILD_TYPE:-RelWithDebInfo}"
jobs="$(ncpus)"
ctest_jobs="${CI_CTEST_JOBS:-$jobs}"

filter=()
case "${CI_METHOD:-}" in
  "") ;;
  fork | spawn | forkserver | thread) filter=(-R "\\.${CI_METHOD}\$|^[^.]+\$") ;;
  *) die "CI_METHOD must be fork, spawn, forkserver or thread, not '$CI_METHOD'" ;;
esac

echo "=== $stage"
# ${1+"$@"} and ${filter[@]+...}: bash 3.2 treats no arguments / an empty
# array as unset under set -u.
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE="$config" ${1+"$@"}
cmake --build "$build" --config "$config" --parallel "$jobs"

# What this build is (version, compiler, start methods, detected features)
# at the head of its test log: mproc-info, through its test (info_text) so
# that ctest supplies the configuration and any emulator (Wine).
(cd "$build" && ctest -C "$config" -R '^info_text$' -V 2>/dev/null) |
  sed -n 's/^[0-9][0-9]*: //p' |
  grep -vE '^(Test command|Working Directory|Environment variables|Test timeout computed)' || true

junit=Testing/Temporary/LastTest.junit.xml # read by ci/report-skips.sh
rm -f "$build/$junit"
status=0
(cd "$build" && ctest -C "$config" -j "$ctest_jobs" --output-on-failure \
  --timeout 900 --no-tests=error --output-junit "$junit" ${filter[@]+"${filter[@]}"}) ||
  status=$?
ci/report-skips.sh "$build" "$stage"
exit "$status"
