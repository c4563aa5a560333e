#!/usr/bin/env bash
# The documentation stage:
#  - the API reference (docs/CMakeLists.txt, target mproc_docs): Doxygen
#    over include/mproc.h, include/mproc_mpi.h and include/mproc_apr.h with
#    EXTRACT_ALL=NO, WARN_IF_UNDOCUMENTED=YES and
#    WARN_AS_ERROR=FAIL_ON_WARNINGS, so it fails when a public function,
#    macro, type, enum value or struct member has no documentation, or a
#    comment is malformed (every warning is listed first); then
#    ci/check-docs.py on its XML for what Doxygen does not check (the
#    values of a documented enum);
#  - the man pages it made: one per group, and a link per function;
#  - docs/guide.md shows every program of docs/examples as it is
#    (docs/examples/guide_sync.cmake; the programs themselves run in the
#    test stages, as the CTest tests docs_<program>.<method>).
#
#   ci/docs.sh [BUILD_DIR]        (default: build/apidocs; relative to the repo root)
#
# Debian/Ubuntu: installs doxygen and cmake when missing.  Doxygen >= 1.9.2
# (FAIL_ON_WARNINGS); Debian 12 has 1.9.4.
set -euo pipefail
cd "$(dirname "$0")/.."
. ci/lib.sh

build="${1:-build/apidocs}"
ci/deps.sh doxygen cmake make python3

echo "=== API reference (Doxygen $(doxygen --version))"
cmake -S . -B "$build" -DMPROC_BUILD_DOCS=ON -DMPROC_DOCS_WARN_AS_ERROR=ON \
  -DMPROC_BUILD_TESTS=OFF -DMPROC_BUILD_EXAMPLES=OFF -DMPROC_BUILD_BENCH=OFF -DMPROC_WITH_MPI=OFF >/dev/null
# Doxygen reruns only when a header changed: start from nothing so that
# every warning shows in every run.
rm -f "$build/docs/mproc_docs.stamp"
cmake --build "$build" --target mproc_docs ||
  die "Doxygen warned (above): document every public name of include/mproc.h, include/mproc_mpi.h and include/mproc_apr.h"
/usr/bin/env python3 ci/check-docs.py "$build/docs/xml"

man3="$build/docs/man/man3"
for page in mproc.h mproc_mpi.h mproc_apr.h mproc_queues mproc_init mproc_queue_put mproc_pool_opts MPROC_EBROKEN MPROC_TARGET; do
  [ -s "$man3/$page.3" ] || die "no man page $man3/$page.3"
done
[ -s "$build/docs/html/index.html" ] || die "no $build/docs/html/index.html"
echo "API reference: $(ls "$man3" | grep -c '^mproc\|^MPROC') man pages in $man3, HTML in $build/docs/html"

cmake -P docs/examples/guide_sync.cmake
