/*
 * Helpers shared by the test programs.  Every test program is also a spawn
 * child of itself: tu_main() calls mproc_init() first, then runs CUnit.
 */
#ifndef MPROC_TESTUTIL_H
#define MPROC_TESTUTIL_H

#include <CUnit/Basic.h>

#include "mproc.h"

/* The argv the program was started with (saved before mproc_init). */
extern int tu_argc;
extern char **tu_argv;

/* Which sanitizer this program was compiled with (gcc's and clang's
 * spellings): UNDER_TSAN, UNDER_ASAN defined as 1, else undefined. */
#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

typedef void (*tu_register_fn)(void);
/* Saves argv, runs mproc_init, calls reg to add suites, runs them; returns
 * the process exit status (0 when every assertion passed). */
int tu_main(int argc, char **argv, tu_register_fn reg);
/* Adds a suite of tests (an array ending with CU_TEST_INFO_NULL). */
void tu_add_suite(const char *name, CU_TestInfo *tests);
#define TU_TEST(fn) {#fn, fn}

/* Skips are visible, never silent passes.  tu_skip marks the running test
 * skipped and prints "SKIPPED: <suite>/<test>: <reason>" (ci/report-skips.sh
 * lists those lines after every CTest run); the caller then returns.
 * tu_skip_part skips one check of a test that otherwise runs.  A program
 * whose every test was skipped exits with TU_SKIP_CODE, which CTest reports
 * as "Skipped" (SKIP_RETURN_CODE). */
#define TU_SKIP_CODE 77
void tu_skip(const char *reason);
void tu_skip_part(const char *what, const char *reason);
#define TU_SKIP_IF(cond, reason)                                                                                      \
    do {                                                                                                               \
        if (cond) {                                                                                                    \
            tu_skip(reason);                                                                                           \
            return;                                                                                                    \
        }                                                                                                              \
    } while (0)
/* For a program that cannot run at all on this OS or build: prints the
 * reason and returns TU_SKIP_CODE (return it from main). */
int tu_skip_program(const char *name, const char *reason);

/* The start method under test (MPROC_START_METHOD or the default). */
mproc_method tu_method(void);
/* A method that starts a real process: the one under test, or spawn when
 * the thread method is under test. */
mproc_method tu_process_method(void);

double tu_now(void);
/* CPU time this process (all its threads) has used, in seconds. */
double tu_cpu_seconds(void);

/* Starts fn(args) under the default context (the method being tested);
 * a failure to start fails the running test. */
mproc_process *tu_start(mproc_target_fn fn, mproc_args *args);
/* Joins p within timeout and frees it; its exit code, or -1000 when it did
 * not end in time. */
int tu_finish(mproc_process *p, double timeout);
/* Sets (value) or removes (NULL) an environment variable. */
void tu_setenv(const char *name, const char *value);

/* Gates: a named, cross-process semaphore (POSIX sem_open, Windows named
 * semaphore) so a child can block until the test releases it, with a bound
 * so that no test hangs.  Names fit in 64 bytes. */
void tu_gate_name(char name[64]);
int tu_gate_create(const char *name);           /* 0 ok */
int tu_gate_wait(const char *name, double timeout); /* 0 released, -1 timeout/error */
int tu_gate_release(const char *name);          /* 0 ok */
void tu_gate_destroy(const char *name);

/* Open descriptors (POSIX) or handles (Windows) of this process. */
/* How many times a leak test repeats its cycle: n, divided by the
 * environment's MPROC_TEST_SCALE when set (the sanitizer and Wine stages
 * set 10: a process start costs 20-200x more there, and a leak of one
 * handle or mapping per cycle shows in 100 cycles as plainly as in 1,000).
 * Says so on stdout when it scales. */
int tu_cycles(int n);

int tu_open_handle_count(void);
/* The most memory this process has had resident (Linux VmHWM, Windows
 * peak working set), in KiB, or -1 where the helper cannot tell. */
long tu_peak_memory_kib(void);
/* CPU time (user + system) process pid has used, in seconds, from
 * /proc/<pid>/stat; -1 where there is no /proc (Windows, macOS). */
double tu_process_cpu_seconds(long pid);
/* Memory mappings of this process (Linux: /proc/self/maps lines), or -1
 * where this test helper cannot count them. */
int tu_mapping_count(void);
/* The library's shared memory segments mapped in this process (a subset
 * of the above that no allocator or sanitizer adds to), or -1 where this
 * test helper cannot count them. */
int tu_segment_count(void);
/* Zombie children of this process (0 where the OS has no zombies), or -1
 * where this test helper cannot count them. */
int tu_zombie_count(void);
/* Whether a process with this pid exists (and is not a zombie). */
int tu_pid_alive(long pid);

/* A path for a scratch file, unique to this call; removed by the caller. */
void tu_temp_path(char path[256], const char *tag);

#endif
