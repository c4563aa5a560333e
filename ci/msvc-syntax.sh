#!/usr/bin/env bash
# What can be checked of an MSVC build without MSVC: every library, example
# (examples/, docs/examples/), tool and test file compiled by clang as an
# x86_64 MSVC target (_MSC_VER defined, Microsoft extensions on) against the
# MinGW-w64 headers, with -Wall -Wextra and the narrowing warnings MSVC's
# /W4 gives (C4244, C4267), as errors.
#
#   ci/msvc-syntax.sh [MINGW_BUILD_DIR]     (default: build/mingw)
#
# Needs the MinGW stage's build tree (ci/windows.sh): its generated
# mproc_config.h (the Windows feature set) and its CUnit headers.  What this
# does not see: cl.exe's own diagnostics (C4996 and friends), MSVC's C11
# atomics (/experimental:c11atomics), linking, running.  The workflow's MSVC
# job does those on a real Windows runner.
#
# The MinGW headers assume GCC when _MSC_VER is set, so __GNUC__ is defined
# for them (-fgnuc-version); mproc's own headers test _MSC_VER first, so its
# MSVC branches (the MPROC_TARGET initializer table, __declspec(thread)) are
# the ones compiled here.
set -euo pipefail
cd "$(dirname "$0")/.."
. ci/lib.sh

build="${1:-build/mingw}"
sysroot=/usr/x86_64-w64-mingw32/include
[ -f "$build/generated/mproc_config.h" ] || die "no $build/generated/mproc_config.h: run ci/windows.sh $build first"
[ -d "$sysroot" ] || die "no MinGW-w64 headers in $sysroot (gcc-mingw-w64-x86-64)"
ci/deps.sh clang

flags=(--target=x86_64-pc-windows-msvc -fms-compatibility -fms-extensions -fgnuc-version=4.2.1
  -std=c11 -fsyntax-only -Wall -Wextra -Wshorten-64-to-32 -Wconversion -Wno-sign-conversion -Werror
  -D_CRT_SECURE_NO_WARNINGS -isystem "$sysroot" -Iinclude -Icore -I"$build/generated")
echo "=== MSVC syntax check (clang, x86_64-pc-windows-msvc)"
count=0
for f in core/*.c platform/win32/*.c examples/*.c docs/examples/*.c tools/*.c; do
  # MS-MPI's and APR's Windows headers are not here: mpi/, apr/ and their
  # examples are left out.
  case "$f" in examples/pool_mpi.c | docs/examples/mpi_pool.c | examples/apr_workers.c | docs/examples/apr.c) continue ;; esac
  clang "${flags[@]}" "$f"
  count=$((count + 1))
done
# Tests: CUnit's own headers are not ours to make warning-free.
for f in tests/*.c; do
  [ "$f" = tests/test_apr.c ] && continue
  # What tests/CMakeLists.txt defines for some of them (built files' paths).
  clang "${flags[@]}" -Wno-conversion -isystem "$build/cunit/include" -DMPROC_TEST_PLUGIN='"test_plugin.dll"' \
    -DMPROC_TEST_SPAWN_MODULE='"spawn_module_targets.dll"' -DMPROC_TEST_WORKER='"mproc-worker.exe"' "$f"
  count=$((count + 1))
done
echo "MSVC syntax check: $count files, no diagnostic (not checked: mpi/*.c, examples/pool_mpi.c and docs/examples/mpi_pool.c, no MS-MPI headers here; apr/*.c, examples/apr_workers.c, docs/examples/apr.c and tests/test_apr.c, no APR for Windows here)"
