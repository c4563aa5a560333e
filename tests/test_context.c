/* Start methods, the per-OS default table, contexts and the env override. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "testutil.h"

static char saved_env[64];
static int had_env;

static void save_env(void)
{
    const char *v = getenv("MPROC_START_METHOD");
    had_env = v != NULL;
    if (v)
        snprintf(saved_env, sizeof saved_env, "%s", v);
}

static void restore_env(void)
{
    tu_setenv("MPROC_START_METHOD", had_env ? saved_env : NULL);
    mproc__reset_start_method_for_tests();
}

static void test_default_table_reproduces_cpython_history(void)
{
    /* Windows: always spawn. */
    for (int minor = 0; minor <= 15; minor++)
        CU_ASSERT_EQUAL(mproc_default_start_method_for(MPROC_OS_WINDOWS, minor), MPROC_SPAWN);
    /* macOS: fork before 3.8, spawn from 3.8. */
    for (int minor = 0; minor <= 7; minor++)
        CU_ASSERT_EQUAL(mproc_default_start_method_for(MPROC_OS_MACOS, minor), MPROC_FORK);
    for (int minor = 8; minor <= 15; minor++)
        CU_ASSERT_EQUAL(mproc_default_start_method_for(MPROC_OS_MACOS, minor), MPROC_SPAWN);
    /* Linux and BSD: fork before 3.14, forkserver from 3.14. */
    for (int minor = 0; minor <= 13; minor++) {
        CU_ASSERT_EQUAL(mproc_default_start_method_for(MPROC_OS_LINUX, minor), MPROC_FORK);
        CU_ASSERT_EQUAL(mproc_default_start_method_for(MPROC_OS_BSD, minor), MPROC_FORK);
    }
    for (int minor = 14; minor <= 15; minor++) {
        CU_ASSERT_EQUAL(mproc_default_start_method_for(MPROC_OS_LINUX, minor), MPROC_FORKSERVER);
        CU_ASSERT_EQUAL(mproc_default_start_method_for(MPROC_OS_BSD, minor), MPROC_FORKSERVER);
    }
}

static void test_default_table_rejects_unknown_os_and_version(void)
{
    CU_ASSERT_EQUAL(mproc_default_start_method_for((mproc_os)99, 14), 0);
    CU_ASSERT_EQUAL(mproc_last_error(), MPROC_EINVAL);
    CU_ASSERT_EQUAL(mproc_default_start_method_for(MPROC_OS_LINUX, -1), 0);
    CU_ASSERT_EQUAL(mproc_last_error(), MPROC_EINVAL);
}

static void test_default_for_this_os(void)
{
#if defined(_WIN32) || defined(__APPLE__)
    CU_ASSERT_EQUAL(mproc_default_start_method(), MPROC_SPAWN);
#else
    CU_ASSERT_EQUAL(mproc_default_start_method(), MPROC_FORKSERVER);
#endif
}

static void test_all_methods_list_default_first(void)
{
    mproc_method m[8];
    int n = mproc_get_all_start_methods(m, 8);
#ifdef _WIN32
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_EQUAL(m[0], MPROC_SPAWN);
    CU_ASSERT_EQUAL(m[1], MPROC_THREAD);
#else
    CU_ASSERT_EQUAL_FATAL(n, 4);
    CU_ASSERT_EQUAL(m[0], mproc_default_start_method());
    CU_ASSERT_EQUAL(m[0] + m[1] + m[2] + m[3], MPROC_FORK + MPROC_SPAWN + MPROC_FORKSERVER + MPROC_THREAD);
#endif
    CU_ASSERT_EQUAL(mproc_get_all_start_methods(m, 1), n); /* count even when cut */
    CU_ASSERT_EQUAL(mproc_get_all_start_methods(NULL, 0), n);
    CU_ASSERT_EQUAL(mproc_get_all_start_methods(NULL, 3), MPROC_EINVAL);
}

static void test_method_names_round_trip(void)
{
    for (int i = MPROC_FORK; i <= MPROC_THREAD; i++) {
        mproc_method m = (mproc_method)0;
        CU_ASSERT_EQUAL(mproc_method_parse(mproc_method_name((mproc_method)i), &m), 0);
        CU_ASSERT_EQUAL(m, (mproc_method)i);
    }
    CU_ASSERT_STRING_EQUAL(mproc_method_name(MPROC_FORKSERVER), "forkserver");
    CU_ASSERT_STRING_EQUAL(mproc_method_name((mproc_method)0), "unknown");
}

static void test_method_parse_rejects_unknown_names(void)
{
    mproc_method m = MPROC_THREAD;
    CU_ASSERT_EQUAL(mproc_method_parse("Fork", &m), MPROC_EINVAL);
    CU_ASSERT_EQUAL(mproc_method_parse("", &m), MPROC_EINVAL);
    CU_ASSERT_EQUAL(mproc_method_parse(NULL, &m), MPROC_EINVAL);
    CU_ASSERT_EQUAL(mproc_method_parse("spawn", NULL), MPROC_EINVAL);
    CU_ASSERT_EQUAL(m, MPROC_THREAD);
}

static void test_set_start_method_twice_is_eexist_unless_forced(void)
{
    save_env();
    mproc__reset_start_method_for_tests();
    CU_ASSERT_EQUAL(mproc_set_start_method(MPROC_THREAD, 0), 0);
    CU_ASSERT_EQUAL(mproc_get_start_method(), MPROC_THREAD);
    CU_ASSERT_EQUAL(mproc_set_start_method(MPROC_SPAWN, 0), MPROC_EEXIST);
    CU_ASSERT_EQUAL(mproc_get_start_method(), MPROC_THREAD);
    CU_ASSERT_EQUAL(mproc_set_start_method(MPROC_SPAWN, 1), 0);
    CU_ASSERT_EQUAL(mproc_get_start_method(), MPROC_SPAWN);
    restore_env();
}

static void test_first_use_fixes_the_default(void)
{
    save_env();
    mproc__reset_start_method_for_tests();
    CU_ASSERT_NOT_EQUAL(mproc_get_start_method(), 0);
    CU_ASSERT_EQUAL(mproc_set_start_method(MPROC_THREAD, 0), MPROC_EEXIST);
    restore_env();
}

static void test_set_start_method_rejects_bad_methods(void)
{
    CU_ASSERT_EQUAL(mproc_set_start_method((mproc_method)0, 1), MPROC_EINVAL);
    CU_ASSERT_EQUAL(mproc_set_start_method((mproc_method)7, 1), MPROC_EINVAL);
#ifdef _WIN32
    CU_ASSERT_EQUAL(mproc_set_start_method(MPROC_FORK, 1), MPROC_ENOTSUP);
    CU_ASSERT_EQUAL(mproc_set_start_method(MPROC_FORKSERVER, 1), MPROC_ENOTSUP);
#endif
}

static void test_env_override_picks_the_method(void)
{
    save_env();
    tu_setenv("MPROC_START_METHOD", "thread");
    mproc__reset_start_method_for_tests();
    CU_ASSERT_EQUAL(mproc_get_start_method(), MPROC_THREAD);
    CU_ASSERT_EQUAL(mproc_ctx_method(mproc_get_context((mproc_method)0)), MPROC_THREAD);
    /* The OS default itself does not change. */
    CU_ASSERT_NOT_EQUAL(mproc_default_start_method(), MPROC_THREAD);
    restore_env();
}

static int noop(mproc_args *args)
{
    (void)args;
    return 0;
}

static void test_env_override_invalid_value_is_an_error(void)
{
    mproc_process *p;
    save_env();
    tu_setenv("MPROC_START_METHOD", "frok");
    mproc__reset_start_method_for_tests();
    CU_ASSERT_EQUAL(mproc_get_start_method(), 0);
    CU_ASSERT_EQUAL(mproc_last_error(), MPROC_EINVAL);
    CU_ASSERT_EQUAL(mproc_init(tu_argc, tu_argv), MPROC_EINVAL);
    CU_ASSERT_PTR_NULL(mproc_get_context((mproc_method)0));
    p = mproc_process_new(NULL, noop, NULL);
    CU_ASSERT_PTR_NULL(p);
    CU_ASSERT_EQUAL(mproc_last_error(), MPROC_EINVAL);
    restore_env();
}

static void test_get_context_per_os(void)
{
    CU_ASSERT_PTR_NOT_NULL(mproc_get_context(MPROC_SPAWN));
    CU_ASSERT_PTR_NOT_NULL(mproc_get_context(MPROC_THREAD));
    CU_ASSERT_EQUAL(mproc_ctx_method(mproc_get_context(MPROC_SPAWN)), MPROC_SPAWN);
#ifdef _WIN32
    CU_ASSERT_PTR_NULL(mproc_get_context(MPROC_FORK));
    CU_ASSERT_EQUAL(mproc_last_error(), MPROC_ENOTSUP);
    CU_ASSERT_PTR_NULL(mproc_get_context(MPROC_FORKSERVER));
    CU_ASSERT_EQUAL(mproc_last_error(), MPROC_ENOTSUP);
#else
    CU_ASSERT_PTR_NOT_NULL(mproc_get_context(MPROC_FORK));
    CU_ASSERT_PTR_NOT_NULL(mproc_get_context(MPROC_FORKSERVER));
#endif
    CU_ASSERT_PTR_NULL(mproc_get_context((mproc_method)9));
    CU_ASSERT_EQUAL(mproc_last_error(), MPROC_EINVAL);
}

static void test_strerror_names_every_code(void)
{
    for (int code = MPROC_ESYS; code <= 0; code++) {
        CU_ASSERT_PTR_NOT_NULL(mproc_strerror(code));
        CU_ASSERT_STRING_NOT_EQUAL(mproc_strerror(code), "unknown mproc error code");
    }
    CU_ASSERT_STRING_EQUAL(mproc_strerror(-1000), "unknown mproc error code");
}

static CU_TestInfo tests[] = {
    TU_TEST(test_default_table_reproduces_cpython_history),
    TU_TEST(test_default_table_rejects_unknown_os_and_version),
    TU_TEST(test_default_for_this_os),
    TU_TEST(test_all_methods_list_default_first),
    TU_TEST(test_method_names_round_trip),
    TU_TEST(test_method_parse_rejects_unknown_names),
    TU_TEST(test_set_start_method_twice_is_eexist_unless_forced),
    TU_TEST(test_first_use_fixes_the_default),
    TU_TEST(test_set_start_method_rejects_bad_methods),
    TU_TEST(test_env_override_picks_the_method),
    TU_TEST(test_env_override_invalid_value_is_an_error),
    TU_TEST(test_get_context_per_os),
    TU_TEST(test_strerror_names_every_code),
    CU_TEST_INFO_NULL,
};

static void reg(void) { tu_add_suite("context", tests); }

int main(int argc, char **argv) { return tu_main(argc, argv, reg); }
