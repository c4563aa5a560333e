#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine (the README's test
# command; .ci/run calls exactly this).  Stages, each in its own build tree
# under build/, each followed by the list of skipped tests:
#   0. ci/check-workflow.py: the GitHub workflow names scripts that exist
#   1. gcc build: every CUnit suite under each start method (CTest), and
#      the MPI pool's suite under mpiexec -n 3 (Open MPI), then
#      ci/check-layout.py on its objects (no file-dependency cycle, platform/
#      a leaf, no OS name in core/ or platform/)
#   1b. ci/consumers.sh: projects using mproc as users do (find_package,
#      pkg-config, add_subdirectory), each on the static and the shared
#      library, built out of tree against a temporary install and run
#   1c. ci/docs.sh: the API reference (Doxygen, HTML and man pages) fails on
#      any undocumented public name; docs/guide.md shows docs/examples as
#      they are (those programs run in every stage's tests, docs_*)
#   2. fallback build (gcc, MPROC_FORCE_FALLBACKS=ON): the macOS/BSD code
#      paths, and the layout check on them
#   3. musl: the same tests linked against musl libc
#   4. clang ASan+UBSan build: the same tests
#   5. clang ThreadSanitizer build: the same tests (data races)
#   5b. ci/fuzz.sh: libFuzzer on the frame parser, the argument decoder and
#      the bootstrap record decoder, 20 s each from tests/fuzz/seeds
#   6. MinGW build: the same suites (spawn, thread) under Wine, and the
#      layout check on the Windows objects
#   7. ci/msvc-syntax.sh: every file compiled by clang as an MSVC target
#      (what can be checked of MSVC without MSVC)
# Installs whatever is missing first.  Stops at the first failing stage.
#   ci/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ci/deps.sh python3-yaml
/usr/bin/python3 ci/check-workflow.py

ci/deps.sh build-essential cmake libcunit1-dev pkg-config libopenmpi-dev openmpi-bin libapr1-dev
CI_STAGE="native (gcc)" ci/build-and-test.sh build/gcc -DCMAKE_C_COMPILER=gcc
/usr/bin/python3 ci/check-layout.py build/gcc
ci/consumers.sh build/consumers
ci/docs.sh build/apidocs
ci/fallback.sh build/fallback
/usr/bin/python3 ci/check-layout.py build/fallback
ci/musl.sh build/musl
ci/sanitize.sh asan build/asan
ci/sanitize.sh tsan build/tsan
ci/fuzz.sh build/fuzz 20
ci/windows.sh build/mingw
/usr/bin/python3 ci/check-layout.py build/mingw x86_64-w64-mingw32-nm
ci/msvc-syntax.sh build/mingw
echo "=== all test suites passed"
