/* Who a process is under the start method in MPROC_START_METHOD, and how
 * many CPUs it may use (os.process_cpu_count). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mproc_config.h"
#include "testutil.h"

#if MPROC_HAVE_SCHED_GETAFFINITY
#include <sched.h>
#endif

static void test_cpu_count_env_overrides_and_bad_values_are_ignored(void)
{
    static const char *const bad[] = {"0", "-2", "abc", "3x", " 3", "+3", "", "1048577", "99999999999999999999999"};
    int plain;

    tu_setenv("MPROC_CPU_COUNT", NULL);
    plain = mproc_cpu_count();
    CU_ASSERT(plain >= 1);
    tu_setenv("MPROC_CPU_COUNT", "3");
    CU_ASSERT_EQUAL(mproc_cpu_count(), 3);
    tu_setenv("MPROC_CPU_COUNT", "1048576");
    CU_ASSERT_EQUAL(mproc_cpu_count(), 1048576);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tu_setenv("MPROC_CPU_COUNT", bad[i]);
        CU_ASSERT_EQUAL(mproc_cpu_count(), plain);
    }
    tu_setenv("MPROC_CPU_COUNT", NULL);
}

static void test_cpu_count_follows_affinity(void)
{
#if MPROC_HAVE_SCHED_GETAFFINITY
    cpu_set_t saved, one;
    int first = -1;

    tu_setenv("MPROC_CPU_COUNT", NULL);
    CU_ASSERT_EQUAL_FATAL(sched_getaffinity(0, sizeof saved, &saved), 0);
    /* Never more than the CPUs this thread may run on. */
    CU_ASSERT(mproc_cpu_count() <= CPU_COUNT(&saved));
    for (int i = 0; i < CPU_SETSIZE && first < 0; i++)
        if (CPU_ISSET(i, &saved))
            first = i;
    CU_ASSERT_FATAL(first >= 0);
    /* As `taskset -c <first>` would: this thread alone, restored after. */
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    CU_ASSERT_EQUAL_FATAL(sched_setaffinity(0, sizeof one, &one), 0);
    CU_ASSERT_EQUAL(mproc_cpu_count(), 1);
    CU_ASSERT_EQUAL(sched_setaffinity(0, sizeof saved, &saved), 0);
#else
    tu_skip("no sched_getaffinity here (macOS, Windows, or MPROC_FORCE_FALLBACKS): the affinity cannot be narrowed "
            "from the test");
#endif
}

static CU_TestInfo tests[] = {
    TU_TEST(test_cpu_count_env_overrides_and_bad_values_are_ignored),
    TU_TEST(test_cpu_count_follows_affinity),
    CU_TEST_INFO_NULL,
};

static void reg(void) { tu_add_suite("identity", tests); }

int main(int argc, char **argv) { return tu_main(argc, argv, reg); }
