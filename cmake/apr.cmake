# APR (apr-1 through pkg-config), for mproc::apr (apr/) and mproc-bench's
# APR baselines (bench/).  Sets MPROC_NO_APR_REASON: "" when APR is usable
# (PkgConfig::APR then exists), else why not, which the APR tests and the
# bench report as their skip reason.
#
# pkg-config answers for the build host: a musl-gcc build is handed glibc's
# APR, links it, and its program then fails to load; a MinGW build would be
# handed Linux's.  So a call is built with the found flags and run (when
# cross-compiling: built and linked), and a build where that fails leaves
# APR out instead of failing later.
set(MPROC_NO_APR_REASON "")
if(NOT MPROC_WITH_APR)
  set(MPROC_NO_APR_REASON "configured with MPROC_WITH_APR=OFF")
elseif(WIN32 AND CMAKE_CROSSCOMPILING)
  set(MPROC_NO_APR_REASON "APR does not cross-build with MinGW on this machine kind: no apr-1 for the Windows target")
else()
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(APR QUIET IMPORTED_TARGET GLOBAL apr-1)
  endif()
  if(NOT APR_FOUND)
    set(MPROC_NO_APR_REASON "libapr1-dev not found at configure time (pkg-config apr-1)")
  else()
    include(CheckCSourceRuns)
    include(CheckCSourceCompiles)
    set(CMAKE_REQUIRED_LIBRARIES PkgConfig::APR)
    set(CMAKE_REQUIRED_QUIET ON)
    set(mproc_apr_probe "#include <apr_general.h>
int main(void) { return apr_initialize() == APR_SUCCESS ? 0 : 1; }")
    if(CMAKE_CROSSCOMPILING)
      check_c_source_compiles("${mproc_apr_probe}" MPROC_APR_WORKS)
    else()
      check_c_source_runs("${mproc_apr_probe}" MPROC_APR_WORKS)
    endif()
    unset(CMAKE_REQUIRED_LIBRARIES)
    unset(CMAKE_REQUIRED_QUIET)
    if(NOT MPROC_APR_WORKS)
      set(MPROC_NO_APR_REASON
        "pkg-config found an apr-1 that a program built with ${CMAKE_C_COMPILER} cannot use, e.g. one for another C library")
    endif()
  endif()
endif()
