/* Nothing leaks: descriptors/handles and zombies across many start/join
 * cycles, and a spawned child inherits only what it was given. */
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#else
#include <fcntl.h>
#include <unistd.h>
#endif

static int return_zero(mproc_args *a)
{
    (void)a;
    return 0;
}
MPROC_TARGET(return_zero);

static int run_one(void)
{
    mproc_process *p = mproc_process_new(NULL, return_zero, NULL);
    int code = -1;
    if (!p || mproc_process_start(p) != 0 || mproc_process_join(p, 60) != 0 || mproc_process_exitcode(p, &code) != 0)
        code = -1000;
    mproc_process_free(p);
    return code;
}

static void test_1000_start_join_cycles_leak_nothing(void)
{
    int before, failures = 0;
    /* The first start may create lasting state (the forkserver). */
    CU_ASSERT_EQUAL_FATAL(run_one(), 0);
    before = tu_open_handle_count();
    for (int i = 0, cycles = tu_cycles(1000); i < cycles; i++)
        failures += run_one() != 0;
    CU_ASSERT_EQUAL(failures, 0);
    CU_ASSERT_EQUAL(tu_open_handle_count(), before);
    if (tu_zombie_count() < 0)
        tu_skip_part("zombie count", "the test helper cannot list this OS's zombie processes");
    else
        CU_ASSERT_EQUAL(tu_zombie_count(), 0);
}

#ifdef _WIN32
/* Returns 0 when the parent's inheritable section is not reachable here
 * under its value.  (Checking only that the value is a handle would be
 * fooled by a handle of the child's own that happens to get that value.) */
static int check_not_inherited(mproc_args *a)
{
    HANDLE h = (HANDLE)(intptr_t)mproc_args_i64(a, 0);
    const int64_t *view = MapViewOfFile(h, FILE_MAP_READ, 0, 0, sizeof(int64_t));
    int inherited = view && *view == mproc_args_i64(a, 1);
    if (view)
        UnmapViewOfFile(view);
    return inherited;
}
MPROC_TARGET(check_not_inherited);

static void test_spawned_child_inherits_only_its_bootstrap(void)
{
    SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
    HANDLE stray = CreateFileMappingA(INVALID_HANDLE_VALUE, &sa, PAGE_READWRITE, 0, 4096, NULL);
    int64_t magic = (int64_t)GetTickCount64() ^ 0x6d70726f63, *view;
    mproc_args *a = mproc_args_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(stray);
    view = MapViewOfFile(stray, FILE_MAP_WRITE, 0, 0, sizeof magic);
    CU_ASSERT_PTR_NOT_NULL_FATAL(view);
    *view = magic;
    UnmapViewOfFile(view);
    mproc_args_add_i64(a, (int64_t)(intptr_t)stray);
    mproc_args_add_i64(a, magic);
    CU_ASSERT_EQUAL(tu_finish(tu_start(check_not_inherited, a), 60), 0);
    CloseHandle(stray);
}
#else
/* Returns how many descriptors above the std streams this process holds. */
static int count_extra_fds(mproc_args *a)
{
    int n = 0;
    (void)a;
    for (int fd = 3; fd < 4096; fd++)
        if (fcntl(fd, F_GETFD) >= 0)
            n++;
    return n;
}
MPROC_TARGET(count_extra_fds);

static void test_spawned_child_inherits_only_its_bootstrap(void)
{
    /* An inheritable descriptor the application forgot about. */
    int stray = open("/dev/null", O_RDONLY);
    mproc_process *p = mproc_process_new(NULL, count_extra_fds, NULL);
    int code = -1;
    CU_ASSERT_FATAL(stray >= 0);
    CU_ASSERT_EQUAL_FATAL(mproc_process_start(p), 0);
    CU_ASSERT_EQUAL(mproc_process_join(p, 60), 0);
    CU_ASSERT_EQUAL(mproc_process_exitcode(p, &code), 0);
    /* spawn: only the bootstrap channel; forkserver: only its life pipe
     * (whose end of file tells the parent it ended, server or not). */
    CU_ASSERT_EQUAL(code, tu_method() == MPROC_SPAWN || tu_method() == MPROC_FORKSERVER ? 1 : 0);
    mproc_process_free(p);
    close(stray);
}
#endif

static CU_TestInfo tests[] = {
    TU_TEST(test_1000_start_join_cycles_leak_nothing),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo exec_tests[] = {
    TU_TEST(test_spawned_child_inherits_only_its_bootstrap),
    CU_TEST_INFO_NULL,
};

static void reg(void)
{
    tu_add_suite("handles", tests);
    /* Only children that exec (or come from the clean forkserver) promise a
     * clean descriptor table; fork and thread share or copy the parent's. */
    if (tu_method() == MPROC_SPAWN || tu_method() == MPROC_FORKSERVER)
        tu_add_suite("handles_exec", exec_tests);
}

int main(int argc, char **argv) { return tu_main(argc, argv, reg); }
