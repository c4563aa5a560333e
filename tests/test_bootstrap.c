/* mproc_init in spawned children: a child that starts processes before
 * mproc_init gets MPROC_ENOINIT (no fork bomb), and so does its parent. */
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

static int return_five(mproc_args *a)
{
    (void)a;
    return 5;
}
MPROC_TARGET(return_five);

/* spawn-based method to test: forkserver when it is under test, else spawn. */
static mproc_ctx *exec_ctx(void)
{
    return mproc_get_context(tu_method() == MPROC_FORKSERVER ? MPROC_FORKSERVER : MPROC_SPAWN);
}

static void test_child_starting_processes_before_init_gets_enoinit(void)
{
    char marker[256];
    mproc_process *p;
    FILE *f;
    int child_rc = 0;
    double t0;

    tu_temp_path(marker, "marker");
    tu_setenv("MPROC_TEST_MARKER", marker);
    p = mproc_process_new(exec_ctx(), return_five, NULL);
    t0 = tu_now();
    CU_ASSERT_EQUAL(mproc_process_start(p), MPROC_ENOINIT);
    CU_ASSERT(tu_now() - t0 < 30);
    tu_setenv("MPROC_TEST_MARKER", NULL);
    /* The child's own start failed the same way instead of spawning again. */
    f = fopen(marker, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fscanf(f, "%d", &child_rc), 1);
    fclose(f);
    remove(marker);
    CU_ASSERT_EQUAL(child_rc, MPROC_ENOINIT);
    /* The failed start left the object unstarted. */
    CU_ASSERT_EQUAL(mproc_process_join(p, 0), MPROC_ESTATE);
    mproc_process_free(p);
}

static void test_start_works_after_a_failed_bootstrap(void)
{
    mproc_process *p = mproc_process_new(exec_ctx(), return_five, NULL);
    int code = -1;
    CU_ASSERT_EQUAL_FATAL(mproc_process_start(p), 0);
    CU_ASSERT_EQUAL(mproc_process_join(p, 60), 0);
    CU_ASSERT_EQUAL(mproc_process_exitcode(p, &code), 0);
    CU_ASSERT_EQUAL(code, 5);
    mproc_process_free(p);
}

static CU_TestInfo tests[] = {
    /* First: under forkserver the misbehaving child is the server itself. */
    TU_TEST(test_child_starting_processes_before_init_gets_enoinit),
    TU_TEST(test_start_works_after_a_failed_bootstrap),
    CU_TEST_INFO_NULL,
};

static void reg(void) { tu_add_suite("bootstrap", tests); }

/* A spawned copy of this program while MPROC_TEST_MARKER is set does what
 * mproc_init's contract forbids: it starts a process before mproc_init. */
static int misbehave(const char *marker)
{
    mproc_process *p = mproc_process_new(NULL, return_five, NULL);
    int rc = p ? mproc_process_start(p) : mproc_last_error();
    FILE *f = fopen(marker, "w");
    if (f) {
        fprintf(f, "%d\n", rc);
        fclose(f);
    }
    if (rc == 0)
        mproc_process_join(p, 60);
    mproc_process_free(p);
    return 3;
}

int main(int argc, char **argv)
{
    const char *marker = getenv("MPROC_TEST_MARKER");
    if (marker && getenv("MPROC_BOOTSTRAP"))
        return misbehave(marker);
    return tu_main(argc, argv, reg);
}
