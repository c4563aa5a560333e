/*
 * Spawn without owning main: a module of targets (tests/plugin/
 * spawn_module.c) that spawn and forkserver children run in mproc-worker
 * (mproc_set_spawn_module), and mproc_set_executable.  This program and the
 * module link the shared library: one registry of targets in each process.
 * Under fork and thread the module's targets run directly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#if defined(_WIN32)
#include <windows.h>
#else
#include <dlfcn.h>
#endif

static mproc_target_fn module_echo;

static int contains(const char *s, const char *part) { return s && strstr(s, part) != NULL; }

/* The module as the program loads it, before the tests: its target is
 * registered here too, so fork and thread run it, and spawn and forkserver
 * know its name. */
static int load_module(void)
{
    mproc_target_fn (*get)(void);
#if defined(_WIN32)
    char path[1024];
    HMODULE lib;
    snprintf(path, sizeof path, "%s", MPROC_TEST_SPAWN_MODULE);
    for (char *p = path; *p; p++)
        if (*p == '/')
            *p = '\\'; /* LoadLibrary wants backslashes */
    if (!(lib = LoadLibraryA(path)))
        return -1;
    {
        FARPROC found = GetProcAddress(lib, "module_echo_fn");
        memcpy(&get, &found, sizeof get); /* a function pointer, without type punning */
    }
#else
    void *lib = dlopen(MPROC_TEST_SPAWN_MODULE, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "%s\n", dlerror());
        return -1;
    }
    {
        void *found = dlsym(lib, "module_echo_fn");
        memcpy(&get, &found, sizeof get); /* a function pointer, without type punning */
    }
#endif
    if (!get)
        return -1;
    module_echo = get();
    return 0;
}

/* Starts module_echo(queue, n) on ctx: the start's code, and on success the
 * child's message and exit code checked. */
static int run_module_echo(mproc_ctx *ctx, int64_t n)
{
    mproc_queue *q = mproc_queue_new(ctx, 0);
    mproc_args *a = mproc_args_new();
    mproc_process *p;
    char expected[64];
    void *data = NULL;
    size_t len = 0;
    int rc, code = -1;

    CU_ASSERT_FATAL(q != NULL && a != NULL);
    CU_ASSERT_EQUAL(mproc_args_add_queue(a, q), 0);
    CU_ASSERT_EQUAL(mproc_args_add_i64(a, n), 0);
    p = mproc_process_new(ctx, module_echo, a);
    CU_ASSERT_FATAL(p != NULL);
    rc = mproc_process_start(p);
    if (rc == 0) {
        snprintf(expected, sizeof expected, "module_echo %lld", (long long)n + 1);
        CU_ASSERT_EQUAL(mproc_queue_get(q, &data, &len, 60), 0);
        CU_ASSERT(len == strlen(expected) && data && memcmp(data, expected, len) == 0);
        mproc_free(data);
        CU_ASSERT_EQUAL(mproc_process_join(p, 60), 0);
        CU_ASSERT_EQUAL(mproc_process_exitcode(p, &code), 0);
        CU_ASSERT_EQUAL(code, 0);
    } else {
        CU_ASSERT_EQUAL(mproc_process_pid(p), 0); /* nothing is running */
    }
    mproc_process_free(p);
    mproc_queue_free(q);
    return rc;
}

static void test_module_target_runs_under_the_method_and_answers_through_a_queue(void)
{
    CU_ASSERT_EQUAL(mproc_set_spawn_module(MPROC_TEST_SPAWN_MODULE), 0);
    CU_ASSERT_EQUAL(run_module_echo(NULL, 41), 0);
}

static void test_spawn_finds_the_worker_beside_the_library(void)
{
    CU_ASSERT_EQUAL(mproc_set_spawn_module(MPROC_TEST_SPAWN_MODULE), 0);
    CU_ASSERT_EQUAL(run_module_echo(mproc_get_context(MPROC_SPAWN), 1), 0);
}

static void test_spawn_runs_the_worker_set_with_set_executable(void)
{
    CU_ASSERT_EQUAL(mproc_set_spawn_module(MPROC_TEST_SPAWN_MODULE), 0);
    CU_ASSERT_EQUAL(mproc_set_executable(MPROC_TEST_WORKER), 0);
    CU_ASSERT_EQUAL(run_module_echo(mproc_get_context(MPROC_SPAWN), 2), 0);
    CU_ASSERT_EQUAL(mproc_set_executable(NULL), 0);
}

static void test_missing_executable_fails_with_esys_naming_it_and_null_restores(void)
{
    const char *missing = "/nonexistent-mproc-dir/mproc-worker-missing";
    CU_ASSERT_EQUAL(mproc_set_spawn_module(MPROC_TEST_SPAWN_MODULE), 0);
    CU_ASSERT_EQUAL(mproc_set_executable(missing), 0);
    CU_ASSERT_EQUAL(run_module_echo(mproc_get_context(MPROC_SPAWN), 3), MPROC_ESYS);
    CU_ASSERT(contains(mproc_last_error_message(), missing));
    CU_ASSERT_EQUAL(mproc_set_executable(NULL), 0);
    CU_ASSERT_EQUAL(run_module_echo(mproc_get_context(MPROC_SPAWN), 4), 0);
}

static void test_module_that_does_not_load_gives_enotreg(void)
{
    CU_ASSERT_EQUAL(mproc_set_spawn_module("/nonexistent-mproc-dir/no-such-module.so"), 0);
    CU_ASSERT_EQUAL(run_module_echo(mproc_get_context(MPROC_SPAWN), 5), MPROC_ENOTREG);
    CU_ASSERT(contains(mproc_last_error_message(), "'module_echo'"));
    CU_ASSERT_EQUAL(mproc_set_spawn_module(MPROC_TEST_SPAWN_MODULE), 0);
}

static void test_without_the_module_spawn_runs_this_program_which_lacks_the_target(void)
{
    CU_ASSERT_EQUAL(mproc_set_spawn_module(NULL), 0);
    CU_ASSERT_EQUAL(run_module_echo(mproc_get_context(MPROC_SPAWN), 6), MPROC_ENOTREG);
    CU_ASSERT(contains(mproc_last_error_message(), "mproc_set_spawn_module"));
    CU_ASSERT_EQUAL(mproc_set_spawn_module(MPROC_TEST_SPAWN_MODULE), 0);
    CU_ASSERT_EQUAL(run_module_echo(mproc_get_context(MPROC_SPAWN), 7), 0);
}

static void register_tests(void)
{
    static CU_TestInfo tests[] = {
        TU_TEST(test_module_target_runs_under_the_method_and_answers_through_a_queue),
        TU_TEST(test_spawn_finds_the_worker_beside_the_library),
        TU_TEST(test_spawn_runs_the_worker_set_with_set_executable),
        TU_TEST(test_missing_executable_fails_with_esys_naming_it_and_null_restores),
        TU_TEST(test_module_that_does_not_load_gives_enotreg),
        TU_TEST(test_without_the_module_spawn_runs_this_program_which_lacks_the_target),
        CU_TEST_INFO_NULL,
    };
    /* After mproc_init: a spawn child of this program itself (the last
     * test) never gets here, so it does not know the module's target. */
    if (load_module() != 0) {
        fprintf(stderr, "cannot load %s\n", MPROC_TEST_SPAWN_MODULE);
        exit(2);
    }
    tu_add_suite("spawn_module", tests);
}

int main(int argc, char **argv) { return tu_main(argc, argv, register_tests); }
