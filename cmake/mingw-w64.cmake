# Cross-compiling mproc for 64-bit Windows with MinGW-w64 (GCC), and running
# its tests under Wine:
#
#   cmake -S . -B build/mingw -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64.cmake
#   ctest --test-dir build/mingw
#
# ci/windows.sh does all of this on a fresh Debian machine.

set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(MPROC_MINGW_TRIPLET x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${MPROC_MINGW_TRIPLET}-gcc)
set(CMAKE_RC_COMPILER ${MPROC_MINGW_TRIPLET}-windres)

# Libraries and headers come from the MinGW sysroot (and from prefixes the
# user adds, e.g. a cross-built CUnit); programs from the build host.
set(CMAKE_FIND_ROOT_PATH /usr/${MPROC_MINGW_TRIPLET})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# A cross-built CUnit (ci/windows.sh passes -DCUNIT_ROOT) is a root of its
# own: the ONLY modes above would otherwise re-root its path under the
# sysroot, where tests/CMakeLists.txt would not find it.
if(CUNIT_ROOT)
  list(APPEND CMAKE_FIND_ROOT_PATH ${CUNIT_ROOT})
endif()

# Link the GCC and MinGW runtimes statically: the .exe files then need no
# MinGW DLL next to them, so Wine (or a bare Windows) runs them as built.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static -static-libgcc")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static-libgcc")

# CTest runs every test program through Wine.  Debian's "wine" is a wrapper
# that picks wine64 when the 32-bit loader is not installed.
find_program(MPROC_WINE NAMES wine wine64 wine-stable PATHS /usr/lib/wine NO_CMAKE_FIND_ROOT_PATH)
if(MPROC_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${MPROC_WINE})
else()
  message(WARNING "wine not found: the tests can be built but not run on this host")
endif()
