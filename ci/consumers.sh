#!/usr/bin/env bash
# Builds the consumer projects of tests/consumers/ out of tree, as a user's
# project uses mproc, each against the static and the shared library, and
# runs each program (tests/consumers/app.c: a spawn child puts a message on
# a queue, the parent checks it; exit 0):
#   find_package      find_package(mproc REQUIRED) + mproc::mproc against an
#                     installed mproc; with both flavours installed,
#                     mproc::mproc follows the consumer's BUILD_SHARED_LIBS;
#                     and mproc::apr (tests/consumers/apr) over each
#   pkg_config        cc app.c $(pkg-config --cflags --libs [--static] mproc)
#   add_subdirectory  mproc's source tree inside a parent project that cannot
#                     find CUnit: it configures (mproc's tests are off), its
#                     ctest lists only its own test, its install installs no
#                     mproc file, and mproc's sources build without -Werror
# mproc is installed with `cmake --install --prefix` into a staging
# directory under BUILD_DIR, which is then moved (the package files must not
# name where they were installed), never into the system.  Each program's
# library is checked with readelf (shared: libmproc.so is NEEDED, static:
# not); shared programs find it by RPATH (CMake) or LD_LIBRARY_PATH
# (pkg-config), and the installed mproc-info by its $ORIGIN RPATH.
#
#   ci/consumers.sh [BUILD_DIR]   (default: build/consumers; relative to the repo root)
#
# Linux (readelf, LD_LIBRARY_PATH).  Installs the compiler, CMake and
# pkg-config first.  Exits nonzero at the first failing check.
set -euo pipefail
cd "$(dirname "$0")/.."
. ci/lib.sh

ci/deps.sh build-essential cmake pkg-config libapr1-dev
build="$(abs_dir "${1:-build/consumers}")"
rm -rf "${build:?}"/*
src="$PWD"
consumers="$src/tests/consumers"
jobs="$(ncpus)"
quiet=(--log-level=WARNING) # cmake's configure: warnings and errors only

echo "=== consumer projects (find_package, pkg-config, add_subdirectory; static and shared)"

# links APP static|shared: the program links that flavour of mproc.
links() {
  local got=static
  readelf -d "$1" | grep -q 'NEEDED.*\[libmproc\.so' && got=shared
  [ "$got" = "$2" ] || die "$1 links the $got library, not the $2 one"
}

# run NAME PROGRAM: runs a consumer program, which must exit 0.
run() {
  log "$1"
  "$2" || die "$1: exited with $?"
}

# ---- installed mproc: one static-only prefix, one with both flavours -------
# static: BUILD_SHARED_LIBS off, the shared flavour not asked for.
# shared: BUILD_SHARED_LIBS on and the static flavour too (mproc::mproc is
# then the shared library unless the consumer's BUILD_SHARED_LIBS is off).
for flavour in static shared; do
  if [ "$flavour" = shared ]; then
    flags=(-DBUILD_SHARED_LIBS=ON -DMPROC_BUILD_STATIC=ON)
  else
    flags=(-DBUILD_SHARED_LIBS=OFF -DMPROC_BUILD_SHARED=OFF)
  fi
  log "mproc ($flavour): configure, build, install"
  cmake "${quiet[@]}" -S . -B "$build/mproc-$flavour" \
    -DMPROC_BUILD_TESTS=OFF -DMPROC_BUILD_EXAMPLES=OFF -DMPROC_BUILD_BENCH=OFF -DMPROC_WITH_MPI=OFF \
    "${flags[@]}" >/dev/null
  cmake --build "$build/mproc-$flavour" --parallel "$jobs" >/dev/null
  cmake --install "$build/mproc-$flavour" --prefix "$build/staging-$flavour" >/dev/null
  mv "$build/staging-$flavour" "$build/prefix-$flavour"
done

prefix="$build/prefix-shared"
log "installed mproc-info (shared library, found through its RPATH)"
"$prefix/bin/mproc-info" | head -3
links "$prefix/bin/mproc-info" shared
for f in include/mproc.h lib/pkgconfig/mproc.pc lib/cmake/mproc/mprocConfig.cmake \
         share/doc/mproc/LICENSE share/doc/mproc/README.md; do
  [ -f "$prefix/$f" ] || die "the install has no $f"
done
if grep -q "$build/staging" "$prefix/lib/pkgconfig/mproc.pc" "$prefix"/lib/cmake/mproc/*.cmake; then
  die "a package file names the directory it was installed to"
fi

# ---- find_package ------------------------------------------------------------
# name        prefix  consumer's BUILD_SHARED_LIBS  expected flavour
for row in "static static - static" "shared shared - shared" "shared-off shared OFF static"; do
  read -r name flavour bsl want <<<"$row"
  b="$build/find_package-$name"
  flags=()
  [ "$bsl" = - ] || flags=(-DBUILD_SHARED_LIBS="$bsl")
  cmake "${quiet[@]}" -S "$consumers/find_package" -B "$b" \
    -DCMAKE_PREFIX_PATH="$build/prefix-$flavour" ${flags[@]+"${flags[@]}"} >/dev/null
  cmake --build "$b" >/dev/null
  links "$b/app" "$want"
  run "find_package, $flavour install${flags[*]:+ ${flags[*]}}: $want library" "$b/app"
done

# ---- find_package: mproc::apr -------------------------------------------------
# The APR component, installed beside either flavour when APR was found.
for flavour in static shared; do
  b="$build/find_package-apr-$flavour"
  [ -f "$build/prefix-$flavour/include/mproc_apr.h" ] || die "the $flavour install has no mproc_apr.h (APR not found?)"
  cmake "${quiet[@]}" -S "$consumers/apr" -B "$b" -DCMAKE_PREFIX_PATH="$build/prefix-$flavour" >/dev/null
  cmake --build "$b" >/dev/null
  links "$b/app_apr" "$flavour"
  run "find_package, mproc::apr over the $flavour library" "$b/app_apr"
done

# A consumer that does not use APR, on a machine where pkg-config has no
# apr-1: find_package(mproc) must not fail for mproc::apr's sake.
b="$build/find_package-no-apr"
PKG_CONFIG_LIBDIR=/nonexistent cmake "${quiet[@]}" -S "$consumers/find_package" -B "$b" \
  -DCMAKE_PREFIX_PATH="$build/prefix-static" >/dev/null || die "find_package(mproc) failed where pkg-config has no apr-1"
cmake --build "$b" >/dev/null
run "find_package where pkg-config has no apr-1 (mproc::mproc only)" "$b/app"

# ---- pkg-config --------------------------------------------------------------
# Where both flavours are installed, -lmproc is the shared library.
for flavour in static shared; do
  b="$build/pkg_config-$flavour"
  mkdir -p "$b"
  static=""
  [ "$flavour" = static ] && static=--static
  PKG_CONFIG_PATH="$build/prefix-$flavour/lib/pkgconfig" \
    tests/consumers/pkg_config/build.sh "$b/app" $static
  links "$b/app" "$flavour"
  LD_LIBRARY_PATH="$build/prefix-$flavour/lib" run "pkg-config${static:+ $static}: $flavour library" "$b/app"
done

# ---- add_subdirectory --------------------------------------------------------
# CUnit cannot be found: the directory holding CUnit/Basic.h is ignored.
ignore=()
for d in /usr/include /usr/local/include; do
  [ -f "$d/CUnit/Basic.h" ] && ignore=(-DCMAKE_IGNORE_PATH="$d")
done
for flavour in static shared; do
  if [ "$flavour" = shared ]; then bsl=ON; else bsl=OFF; fi
  b="$build/add_subdirectory-$flavour"
  cmake "${quiet[@]}" -S "$consumers/add_subdirectory" -B "$b" \
    -DBUILD_SHARED_LIBS="$bsl" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON ${ignore[@]+"${ignore[@]}"} >/dev/null
  ! grep -q '^CUNIT_INCLUDE_DIR' "$b/CMakeCache.txt" || die "add_subdirectory: mproc looked for CUnit"
  cmake --build "$b" --parallel "$jobs" >/dev/null
  ! grep -q -- '-Werror' "$b/compile_commands.json" || die "add_subdirectory: mproc's sources build with -Werror"
  grep -q -- '-Wall' "$b/compile_commands.json" || die "add_subdirectory: mproc's sources build without -Wall"
  links "$b/app" "$flavour"
  run "add_subdirectory, BUILD_SHARED_LIBS=$bsl: $flavour library" "$b/app"
  tests="$(cd "$b" && ctest -N | sed -n 's/^ *Test *#[0-9]*: //p')"
  [ "$tests" = app ] || die "add_subdirectory: the parent's ctest lists: $(echo "$tests" | tr '\n' ' ')"
  cmake --install "$b" --prefix "$b/install" >/dev/null
  installed="$(cd "$b/install" && find . -type f -o -type l)"
  [ "$installed" = ./bin/app ] || die "add_subdirectory: the parent's install installs: $(echo "$installed" | tr '\n' ' ')"
done
log "add_subdirectory: no CUnit needed, no -Werror, ctest lists only the parent's test, install installs only its program"

echo "=== consumer projects passed"
