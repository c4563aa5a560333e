#!/usr/bin/env bash
# Builds mproc for Windows with MinGW-w64 and runs its test suite under Wine.
#
#   ci/windows.sh [BUILD_DIR]     (default: build/mingw; relative to the repo root)
#
# Debian 12 or Ubuntu 24.04, as root or with sudo: installs what is missing,
# cross-builds CUnit from the distribution's source package (it ships no
# MinGW build of it) into BUILD_DIR/cunit with ci/cunit.sh, creates a Wine
# prefix in BUILD_DIR/wineprefix, then configures with cmake/mingw-w64.cmake,
# builds and runs ctest (every test program under Wine) with
# ci/build-and-test.sh.  Exits nonzero when any step or test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
. ci/lib.sh

build="$(abs_dir "${1:-build/mingw}")" # WINEPREFIX and CUNIT_ROOT must be absolute
triplet=x86_64-w64-mingw32

# wine runs wine64 when the 32-bit loader is absent, which is all a 64-bit
# test suite needs.
ci/deps.sh gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64 wine wine64 cmake make

ci/cunit.sh "$triplet-gcc" "$triplet-ar" "$build/cunit"

# ---- Wine --------------------------------------------------------------------
export WINEDEBUG=-all
# A process start under Wine costs ~100x a native one: leak tests run a
# tenth of their cycles (tests/testutil.h, tu_cycles); the gcc, fallback and
# musl stages run them all.
export MPROC_TEST_SCALE="${MPROC_TEST_SCALE:-10}"
export WINEPREFIX="$build/wineprefix"
# Creating a prefix takes tens of seconds: done here, not inside the first
# test's timeout.  mscoree/mshtml are disabled for the boot so that Wine does
# not try to fetch Mono and Gecko, which the tests do not use.  wineboot is
# noisy on a machine without a display; its output means nothing here.
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  log "creating the Wine prefix $WINEPREFIX"
  WINEDLLOVERRIDES="mscoree,mshtml=" wineboot -i >/dev/null 2>&1 || true
  wineserver -w || true
  [ -f "$WINEPREFIX/system.reg" ] || die "wineboot did not create $WINEPREFIX"
fi
# One persistent wineserver for the whole run, with Wine's own system
# processes (services.exe, winedevice, rpcss...) started here.  Every Wine
# process keeps the Unix stderr it was started with: started by the first
# test, they would hold that test's output pipe open for as long as the
# server lives, and ctest would wait for its EOF until the timeout.  (Without
# a persistent server they exit a few seconds after each test instead.)
wineserver -p
trap 'wineserver -k >/dev/null 2>&1 || true' EXIT
wine cmd /c exit </dev/null >/dev/null 2>&1 || die "wine cannot run programs in $WINEPREFIX"

# ---- configure, build, test (one test at a time, as before: one wineserver) --
CI_STAGE="${CI_STAGE:-MinGW under Wine}" CI_CTEST_JOBS="${CI_CTEST_JOBS:-1}" \
  ci/build-and-test.sh "$build" \
  -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/mingw-w64.cmake" \
  -DCUNIT_ROOT="$build/cunit" \
  -DMPROC_WITH_MPI=OFF -DMPROC_MPI_OFF_REASON="Windows' MPI is MS-MPI, which does not install under Wine here"
