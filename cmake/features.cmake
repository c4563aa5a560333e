# Feature detection: every non-portable call the POSIX platform makes is
# probed here and becomes MPROC_HAVE_<NAME> (0 or 1) in the generated
# mproc_config.h.  The code tests these macros, never an OS name, so a new
# OS (or a libc such as musl) takes whichever path its headers allow.
#
# MPROC_FORCE_FALLBACKS turns every probe off: Linux then builds exactly the
# code macOS and the BSDs take where they lack a feature, so the fallbacks
# run in this project's own test suite.
include(CheckSymbolExists)
include(CheckCSourceCompiles)

set(MPROC_FEATURES
  PIPE2 SOCK_CLOEXEC MSG_CMSG_CLOEXEC MSG_NOSIGNAL SO_NOSIGPIPE F_SETNOSIGPIPE
  SIGTIMEDWAIT MUTEX_CLOCKLOCK MUTEX_TIMEDLOCK ROBUST_MUTEX CONDATTR_SETCLOCK
  MEMFD PIDFD CLOSE_RANGE CLOSEFROM ADDCLOSEFROM SPAWN_CLOEXEC_DEFAULT
  F_SETPIPE_SZ PROCFS NSGETEXECUTABLEPATH CRT_EXTERNS KERN_PROC_PATHNAME
  PROC_PIDINFO KINFO_PROC_NUMTHREADS KINFO_PROC_P_STAT WAITID SEM_TIMEDWAIT
  PDEATHSIG SCHED_GETAFFINITY CPUSET_GETAFFINITY PR_SET_NAME PTHREAD_SETNAME_SELF
  PTHREAD_SET_NAME_NP SETPROCTITLE DLOPEN DLADDR
  SPAWN_ADDCHDIR)

function(mproc_probe_symbol name symbol headers)
  check_symbol_exists(${symbol} "${headers}" MPROC_PROBE_${name})
  set(MPROC_HAVE_${name} ${MPROC_PROBE_${name}} PARENT_SCOPE)
endfunction()

function(mproc_probe_source name source)
  check_c_source_compiles("${source}" MPROC_PROBE_${name})
  set(MPROC_HAVE_${name} ${MPROC_PROBE_${name}} PARENT_SCOPE)
endfunction()

foreach(feature ${MPROC_FEATURES})
  set(MPROC_HAVE_${feature} 0)
endforeach()

if(NOT WIN32 AND NOT MPROC_FORCE_FALLBACKS)
  set(CMAKE_REQUIRED_DEFINITIONS -D_GNU_SOURCE -D_DARWIN_C_SOURCE)
  set(CMAKE_REQUIRED_LIBRARIES Threads::Threads)
  set(CMAKE_REQUIRED_QUIET ON)
  mproc_probe_symbol(PIPE2 pipe2 "unistd.h;fcntl.h")
  mproc_probe_source(SOCK_CLOEXEC "#include <sys/socket.h>
    int main(void) { return SOCK_CLOEXEC | SOCK_NONBLOCK; }")
  mproc_probe_symbol(MSG_CMSG_CLOEXEC MSG_CMSG_CLOEXEC "sys/socket.h")
  mproc_probe_symbol(MSG_NOSIGNAL MSG_NOSIGNAL "sys/socket.h")
  mproc_probe_symbol(SO_NOSIGPIPE SO_NOSIGPIPE "sys/socket.h")
  mproc_probe_symbol(F_SETNOSIGPIPE F_SETNOSIGPIPE "fcntl.h")
  mproc_probe_symbol(SIGTIMEDWAIT sigtimedwait "signal.h")
  mproc_probe_symbol(MUTEX_CLOCKLOCK pthread_mutex_clocklock "pthread.h;time.h")
  mproc_probe_symbol(MUTEX_TIMEDLOCK pthread_mutex_timedlock "pthread.h;time.h")
  # PTHREAD_MUTEX_ROBUST is an enumerator on some systems: compile, not #ifdef.
  mproc_probe_source(ROBUST_MUTEX "#include <errno.h>
    #include <pthread.h>
    int main(void) {
      pthread_mutexattr_t a; pthread_mutex_t m;
      pthread_mutexattr_init(&a);
      pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
      pthread_mutex_init(&m, &a);
      return pthread_mutex_consistent(&m) == EOWNERDEAD;
    }")
  mproc_probe_symbol(CONDATTR_SETCLOCK pthread_condattr_setclock "pthread.h")
  mproc_probe_symbol(SEM_TIMEDWAIT sem_timedwait "semaphore.h;time.h")
  mproc_probe_symbol(MEMFD memfd_create "sys/mman.h")
  mproc_probe_source(PIDFD "#include <sys/syscall.h>
    #include <unistd.h>
    int main(void) { return (int)syscall(SYS_pidfd_open, 1, 0); }")
  mproc_probe_source(CLOSE_RANGE "#include <sys/syscall.h>
    #include <unistd.h>
    int main(void) { return (int)syscall(SYS_close_range, 3u, ~0u, 0); }")
  mproc_probe_symbol(CLOSEFROM closefrom "unistd.h;stdlib.h")
  mproc_probe_symbol(ADDCLOSEFROM posix_spawn_file_actions_addclosefrom_np "spawn.h")
  mproc_probe_symbol(SPAWN_ADDCHDIR posix_spawn_file_actions_addchdir_np "spawn.h")
  mproc_probe_source(SPAWN_CLOEXEC_DEFAULT "#include <spawn.h>
    int main(void) {
      posix_spawn_file_actions_t fa;
      posix_spawn_file_actions_init(&fa);
      posix_spawn_file_actions_addinherit_np(&fa, 0);
      return POSIX_SPAWN_CLOEXEC_DEFAULT;
    }")
  mproc_probe_symbol(F_SETPIPE_SZ F_SETPIPE_SZ "fcntl.h")
  if(EXISTS /proc/self/stat AND EXISTS /proc/self/exe AND NOT CMAKE_CROSSCOMPILING)
    set(MPROC_HAVE_PROCFS 1)
  endif()
  mproc_probe_symbol(NSGETEXECUTABLEPATH _NSGetExecutablePath "mach-o/dyld.h")
  mproc_probe_symbol(CRT_EXTERNS _NSGetEnviron "crt_externs.h")
  mproc_probe_source(KERN_PROC_PATHNAME "#include <sys/types.h>
    #include <sys/sysctl.h>
    int main(void) { int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PATHNAME, -1}; return mib[2]; }")
  mproc_probe_symbol(PROC_PIDINFO proc_pidinfo "libproc.h")
  mproc_probe_source(KINFO_PROC_NUMTHREADS "#include <sys/types.h>
    #include <sys/sysctl.h>
    #include <sys/user.h>
    int main(void) { struct kinfo_proc k; int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PID, 1}; (void)mib; return k.ki_numthreads; }")
  mproc_probe_source(KINFO_PROC_P_STAT "#include <sys/types.h>
    #include <sys/sysctl.h>
    int main(void) { struct kinfo_proc k; int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PID, 1}; (void)mib; return k.kp_proc.p_stat == SZOMB; }")
  mproc_probe_source(WAITID "#include <string.h>
    #include <sys/wait.h>
    int main(void) { siginfo_t i; memset(&i, 0, sizeof i); return waitid(P_PID, 1, &i, WEXITED | WNOHANG | WNOWAIT); }")
  mproc_probe_source(PDEATHSIG "#include <signal.h>
    #include <sys/prctl.h>
    int main(void) { return prctl(PR_SET_PDEATHSIG, SIGKILL); }")
  mproc_probe_source(SCHED_GETAFFINITY "#include <sched.h>
    int main(void) {
      cpu_set_t *s = CPU_ALLOC(2048);
      int n = sched_getaffinity(0, CPU_ALLOC_SIZE(2048), s) == 0 ? CPU_COUNT_S(CPU_ALLOC_SIZE(2048), s) : 0;
      CPU_FREE(s);
      return n;
    }")
  mproc_probe_source(CPUSET_GETAFFINITY "#include <sys/param.h>
    #include <sys/cpuset.h>
    int main(void) {
      cpuset_t s;
      return cpuset_getaffinity(CPU_LEVEL_WHICH, CPU_WHICH_PID, -1, sizeof s, &s) == 0 ? CPU_COUNT(&s) : 0;
    }")
  mproc_probe_source(PR_SET_NAME "#include <sys/prctl.h>
    int main(void) { return prctl(PR_SET_NAME, \"x\", 0, 0, 0); }")
  # macOS: the one-argument form, which names the calling thread.
  mproc_probe_source(PTHREAD_SETNAME_SELF "#include <pthread.h>
    int main(void) { return pthread_setname_np(\"x\"); }")
  mproc_probe_source(PTHREAD_SET_NAME_NP "#include <pthread.h>
    #include <pthread_np.h>
    int main(void) { pthread_set_name_np(pthread_self(), \"x\"); return 0; }")
  mproc_probe_source(SETPROCTITLE "#include <stdlib.h>
    #include <unistd.h>
    int main(void) { setproctitle(\"%s\", \"x\"); return 0; }")
  unset(CMAKE_REQUIRED_DEFINITIONS)
  unset(CMAKE_REQUIRED_LIBRARIES)
  unset(CMAKE_REQUIRED_QUIET)
endif()

# Loading shared libraries (mproc-worker, mproc_set_spawn_module) is no
# fallback case: every POSIX system has dlopen, and the ones without
# /proc/self/exe (macOS, the BSDs) have dladdr.  Probed in the forced-
# fallback build too, so that it runs the spawn-module tests.  Windows
# uses LoadLibraryW and GetModuleHandleExW instead.
if(NOT WIN32)
  set(CMAKE_REQUIRED_DEFINITIONS -D_GNU_SOURCE -D_DARWIN_C_SOURCE)
  set(CMAKE_REQUIRED_LIBRARIES ${CMAKE_DL_LIBS})
  set(CMAKE_REQUIRED_QUIET ON)
  mproc_probe_symbol(DLOPEN dlopen "dlfcn.h")
  mproc_probe_source(DLADDR "#include <dlfcn.h>
    int main(void) { Dl_info i; return dladdr((void *)&i, &i) && i.dli_fname != 0; }")
  unset(CMAKE_REQUIRED_DEFINITIONS)
  unset(CMAKE_REQUIRED_LIBRARIES)
  unset(CMAKE_REQUIRED_QUIET)
endif()

foreach(feature ${MPROC_FEATURES})
  if(MPROC_HAVE_${feature})
    set(MPROC_HAVE_${feature} 1)
  else()
    set(MPROC_HAVE_${feature} 0)
  endif()
endforeach()

# OS identity (the default start method follows it) is CMake's to say, so
# that no source file tests an OS name.
if(WIN32)
  set(MPROC_CONFIG_OS MPROC_OS_WINDOWS)
elseif(APPLE)
  set(MPROC_CONFIG_OS MPROC_OS_MACOS)
elseif(CMAKE_SYSTEM_NAME STREQUAL "Linux")
  set(MPROC_CONFIG_OS MPROC_OS_LINUX)
else()
  set(MPROC_CONFIG_OS MPROC_OS_BSD)
endif()

# The list itself, for code that shows every feature (tools/mproc_info.c):
# X(NAME, MPROC_HAVE_NAME) per feature, in MPROC_FEATURES' order.
set(MPROC_CONFIG_FEATURE_LIST "")
foreach(feature ${MPROC_FEATURES})
  string(APPEND MPROC_CONFIG_FEATURE_LIST " \\\n  X(${feature}, MPROC_HAVE_${feature})")
endforeach()

# Where mproc_set_spawn_module finds mproc-worker when it is not beside the
# library (core/executable.c): the installed bin/ from the library's
# directory (a moved install), then the installed program.
set(MPROC_EXE_SUFFIX "${CMAKE_EXECUTABLE_SUFFIX}")
set(MPROC_WORKER_INSTALL_PATH "${CMAKE_INSTALL_FULL_BINDIR}/mproc-worker${CMAKE_EXECUTABLE_SUFFIX}")
file(RELATIVE_PATH MPROC_LIBDIR_TO_BINDIR ${CMAKE_INSTALL_FULL_LIBDIR} ${CMAKE_INSTALL_FULL_BINDIR})

set(MPROC_CONFIG_DIR ${PROJECT_BINARY_DIR}/generated)
configure_file(${PROJECT_SOURCE_DIR}/cmake/mproc_config.h.in ${MPROC_CONFIG_DIR}/mproc_config.h @ONLY)

set(MPROC_FEATURE_SUMMARY "")
foreach(feature ${MPROC_FEATURES})
  string(APPEND MPROC_FEATURE_SUMMARY " ${feature}=${MPROC_HAVE_${feature}}")
endforeach()
message(STATUS "mproc features:${MPROC_FEATURE_SUMMARY}")
