#!/usr/bin/env bash
# Builds mproc (library, examples, tests) with musl libc and runs the test
# suite under every start method.
#
#   ci/musl.sh [BUILD_DIR]        (default: build/musl; relative to the repo root)
#
# Debian/Ubuntu: installs musl-tools, builds CUnit with musl-gcc into
# BUILD_DIR/cunit (ci/cunit.sh: the distribution ships no musl CUnit), then
# configures with CC=musl-gcc and runs ci/build-and-test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
. ci/lib.sh

build="${1:-build/musl}"
# What this stage shows is a second libc, not stamina: cycle counts are a
# tenth (tests/testutil.h, tu_cycles), as in the sanitizer and Wine stages.
# musl's allocator made the pool's 10-million-item stream alone take 70 s
# per start method; the gcc and fallback stages run every cycle.
export MPROC_TEST_SCALE="${MPROC_TEST_SCALE:-10}"
ci/deps.sh musl-tools cmake make
ci/cunit.sh musl-gcc ar "$build/cunit"
CC=musl-gcc CI_STAGE="${CI_STAGE:-musl}" \
  ci/build-and-test.sh "$build" -DCUNIT_ROOT="$(abs_dir "$build/cunit")" \
  -DMPROC_WITH_MPI=OFF -DMPROC_MPI_OFF_REASON="Debian's Open MPI is built for glibc, not musl"
