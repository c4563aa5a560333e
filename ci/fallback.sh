#!/usr/bin/env bash
# Builds mproc with gcc and MPROC_FORCE_FALLBACKS=ON (every MPROC_HAVE_*
# feature probe off: Linux compiles the fallbacks macOS and the BSDs use) and
# runs the test suite under every start method.
#
#   ci/fallback.sh [BUILD_DIR]    (default: build/fallback; relative to the repo root)
#
# Debian/Ubuntu: installs the compiler and CUnit first.
set -euo pipefail
cd "$(dirname "$0")/.."

build="${1:-build/fallback}"
ci/deps.sh build-essential cmake libcunit1-dev
CI_STAGE="${CI_STAGE:-fallback build (gcc, MPROC_FORCE_FALLBACKS=ON)}" \
  ci/build-and-test.sh "$build" -DCMAKE_C_COMPILER=gcc -DMPROC_FORCE_FALLBACKS=ON
