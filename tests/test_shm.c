/* Shared memory: one block seen by every process it is given to. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#ifndef _WIN32
#include <dirent.h>
#include <unistd.h>
#endif

/* Fills the block with i64 arg 1 (as bytes) and checks it was zero. */
static int fill_block(mproc_args *a)
{
    mproc_shm *s = mproc_args_shm(a, 0);
    unsigned char *p = mproc_shm_ptr(s), v = (unsigned char)mproc_args_i64(a, 1);
    size_t n = mproc_shm_size(s);
    if (!p || n != (size_t)mproc_args_i64(a, 2))
        return 10;
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return 11;
    memset(p, v, n);
    return 0;
}
MPROC_TARGET(fill_block);

static void test_child_writes_are_seen_by_the_parent(void)
{
    const size_t size = 3 * 4096 + 17;
    mproc_shm *s = mproc_shm_new(NULL, size);
    mproc_args *a = mproc_args_new();
    unsigned char *p;
    size_t bad = 0;
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(mproc_shm_size(s), size);
    mproc_args_add_shm(a, s);
    mproc_args_add_i64(a, 0x5a);
    mproc_args_add_i64(a, (int64_t)size);
    CU_ASSERT_EQUAL(tu_finish(tu_start(fill_block, a), 60), 0);
    p = mproc_shm_ptr(s);
    for (size_t i = 0; i < size; i++)
        bad += p[i] != 0x5a;
    CU_ASSERT_EQUAL(bad, 0);
    mproc_shm_free(s);
}

static void test_shm_rejects_bad_sizes(void)
{
    CU_ASSERT_PTR_NULL(mproc_shm_new(NULL, 0));
    CU_ASSERT_EQUAL(mproc_last_error(), MPROC_EINVAL);
    CU_ASSERT_PTR_NULL(mproc_shm_ptr(NULL));
    CU_ASSERT_EQUAL(mproc_shm_size(NULL), 0);
}

static void test_args_shm_wrong_type_is_einval(void)
{
    mproc_args *a = mproc_args_new();
    mproc_args_add_i64(a, 1);
    CU_ASSERT_PTR_NULL(mproc_args_shm(a, 0));
    CU_ASSERT_EQUAL(mproc_last_error(), MPROC_EINVAL);
    CU_ASSERT_EQUAL(mproc_args_add_shm(a, NULL), MPROC_EINVAL);
    mproc_args_free(a);
}

static void test_1000_create_transfer_free_cycles_leak_nothing(void)
{
    int before = 0, maps = 0, failures = 0;
    for (int i = -1, cycles = tu_cycles(1000); i < cycles; i++) {
        mproc_shm *s;
        mproc_args *a;
        if (i == 0) {
            before = tu_open_handle_count();
            maps = tu_mapping_count();
        }
        s = mproc_shm_new(NULL, 64);
        a = mproc_args_new();
        mproc_args_add_shm(a, s);
        mproc_args_add_i64(a, 1);
        mproc_args_add_i64(a, 64);
        failures += tu_finish(tu_start(fill_block, a), 60) != 0;
        mproc_shm_free(s);
    }
    CU_ASSERT_EQUAL(failures, 0);
    CU_ASSERT_EQUAL(tu_open_handle_count(), before);
    /* A leaked segment per cycle would add 1,000 mappings; allocators and
     * sanitizers legitimately add a few of their own. */
    if (maps < 0)
        tu_skip_part("mapping count", "this OS does not list a process's mappings to the test helper");
    else
        CU_ASSERT(tu_mapping_count() - maps < 50);
}

#ifndef _WIN32
/* Names this process left in /dev/shm (mproc names its segments
 * "mproc-<pid>-..."); other suites running at the same time add their own. */
static int dev_shm_entries(void)
{
    DIR *d = opendir("/dev/shm");
    struct dirent *e;
    char prefix[64];
    int n = 0;
    if (!d)
        return -1;
    snprintf(prefix, sizeof prefix, "mproc-%ld-", (long)getpid());
    while ((e = readdir(d)) != NULL)
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

static void test_nothing_is_left_in_dev_shm(void)
{
    int before = dev_shm_entries();
    mproc_shm *s;
    TU_SKIP_IF(before < 0, "this OS keeps POSIX shared memory names where the test cannot list them (no /dev/shm)");
    s = mproc_shm_new(NULL, 1 << 20);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(dev_shm_entries(), before);
    mproc_shm_free(s);
    CU_ASSERT_EQUAL(dev_shm_entries(), before);
}
#endif

static CU_TestInfo tests[] = {
    TU_TEST(test_child_writes_are_seen_by_the_parent),
    TU_TEST(test_shm_rejects_bad_sizes),
    TU_TEST(test_args_shm_wrong_type_is_einval),
    TU_TEST(test_1000_create_transfer_free_cycles_leak_nothing),
#ifndef _WIN32
    TU_TEST(test_nothing_is_left_in_dev_shm),
#endif
    CU_TEST_INFO_NULL,
};

static void reg(void) { tu_add_suite("shm", tests); }

int main(int argc, char **argv) { return tu_main(argc, argv, reg); }
