/* Who a process is (multiprocessing.current_process, parent_process,
 * active_children) under the start method in MPROC_START_METHOD, and how
 * many CPUs it may use (os.process_cpu_count). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h" /* mproc__plat_getpid */
#include "mproc_config.h"
#include "testutil.h"

#if MPROC_HAVE_SCHED_GETAFFINITY
#include <sched.h>
#endif
#ifdef _WIN32
#include <windows.h>
#endif

/* Puts this process's mproc_current_process() on the queue in arg 0, then
 * waits on the gate named by arg 1 (when given) so that the parent can
 * look at the running child. */
static int report_identity(mproc_args *a)
{
    mproc_process_info info;
    int rc = 0;
    if (mproc_current_process(&info) != 0)
        return 1;
    if (mproc_queue_put(mproc_args_queue(a, 0), &info, sizeof info, 60) != 0)
        return 2;
    if (mproc_args_count(a) > 1 && tu_gate_wait(mproc_args_str(a, 1), 60) != 0)
        rc = 3;
    return rc;
}
MPROC_TARGET(report_identity);

static int wait_gate(mproc_args *a) { return tu_gate_wait(mproc_args_str(a, 0), 60) == 0 ? 0 : 99; }
MPROC_TARGET(wait_gate);

/* Starts report_identity named name (NULL: the default name) with the
 * daemon flag; *info is what it reported.  gate NULL: joined here. */
static mproc_process *start_reporter(const char *name, int daemon, const char *gate, mproc_process_info *info)
{
    mproc_queue *q = mproc_queue_new(NULL, 0);
    mproc_args *a = mproc_args_new();
    mproc_process *p;
    void *data = NULL;
    size_t len = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    mproc_args_add_queue(a, q);
    if (gate)
        mproc_args_add_str(a, gate);
    p = mproc_process_new(NULL, report_identity, a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    if (name)
        CU_ASSERT_EQUAL(mproc_process_set_name(p, name), 0);
    CU_ASSERT_EQUAL(mproc_process_set_daemon(p, daemon), 0);
    CU_ASSERT_EQUAL_FATAL(mproc_process_start(p), 0);
    memset(info, 0, sizeof *info);
    CU_ASSERT_EQUAL(mproc_queue_get(q, &data, &len, 60), 0);
    CU_ASSERT_EQUAL(len, sizeof *info);
    if (data && len == sizeof *info)
        memcpy(info, data, sizeof *info);
    mproc_free(data);
    mproc_queue_free(q);
    return p;
}

static void test_main_process_is_mainprocess(void)
{
    mproc_process_info info;
    CU_ASSERT_EQUAL_FATAL(mproc_current_process(&info), 0);
    CU_ASSERT_STRING_EQUAL(info.name, "MainProcess");
    CU_ASSERT_EQUAL(info.pid, mproc__plat_getpid());
    CU_ASSERT_EQUAL(info.daemon, 0);
    CU_ASSERT_EQUAL(info.method, 0);
    CU_ASSERT_EQUAL(info.parent_pid, mproc_parent_pid());
    CU_ASSERT_EQUAL(mproc_current_process(NULL), MPROC_EINVAL);
}

static void test_child_sees_its_name_pid_daemon_and_method(void)
{
    mproc_process_info info;
    mproc_process *p = start_reporter("worker-seven", 1, NULL, &info);
    CU_ASSERT_STRING_EQUAL(info.name, "worker-seven");
    CU_ASSERT_EQUAL(info.pid, mproc_process_pid(p));
    CU_ASSERT_EQUAL(info.daemon, 1);
    CU_ASSERT_EQUAL(info.method, tu_method());
    CU_ASSERT_EQUAL(tu_finish(p, 60), 0);
    /* The parent's own identity is untouched (a thread child's is its
     * thread's only). */
    CU_ASSERT_EQUAL_FATAL(mproc_current_process(&info), 0);
    CU_ASSERT_STRING_EQUAL(info.name, "MainProcess");
    CU_ASSERT_EQUAL(info.method, 0);
}

static void test_child_sees_its_default_name(void)
{
    mproc_process_info info;
    mproc_process *p = start_reporter(NULL, 0, NULL, &info);
    CU_ASSERT_STRING_EQUAL(info.name, mproc_process_name(p));
    CU_ASSERT_EQUAL(strncmp(info.name, "Process-", 8), 0);
    CU_ASSERT_EQUAL(info.daemon, 0);
    CU_ASSERT_EQUAL(tu_finish(p, 60), 0);
}

/* Under forkserver the OS parent is the server; the child's parent is still
 * this process.  Under thread, the thread's starter is this process too. */
static void test_parent_pid_is_the_real_parent(void)
{
    mproc_process_info info;
    mproc_process *p = start_reporter(NULL, 0, NULL, &info);
    CU_ASSERT_EQUAL(info.parent_pid, mproc__plat_getpid());
    CU_ASSERT_EQUAL(tu_finish(p, 60), 0);
}

static void test_os_shows_the_truncated_name(void)
{
#if MPROC_HAVE_PR_SET_NAME && MPROC_HAVE_PROCFS
    char gate[64], path[64], comm[64] = "";
    mproc_process_info info;
    mproc_process *p;
    FILE *f;

    tu_gate_name(gate);
    CU_ASSERT_EQUAL_FATAL(tu_gate_create(gate), 0);
    p = start_reporter("identity-child-with-a-long-name", 0, gate, &info);
    CU_ASSERT_STRING_EQUAL(info.name, "identity-child-with-a-long-name");
    if (tu_method() == MPROC_THREAD) {
        tu_skip_part("/proc/<pid>/comm", "a thread child names its thread, not the process");
    } else {
        snprintf(path, sizeof path, "/proc/%ld/comm", mproc_process_pid(p));
        f = fopen(path, "r");
        CU_ASSERT_PTR_NOT_NULL(f);
        if (f) {
            CU_ASSERT_PTR_NOT_NULL(fgets(comm, sizeof comm, f));
            fclose(f);
        }
        /* The kernel keeps 15 bytes; the line ends with a newline. */
        CU_ASSERT_STRING_EQUAL(comm, "identity-child-\n");
    }
    CU_ASSERT_EQUAL(tu_gate_release(gate), 0);
    CU_ASSERT_EQUAL(tu_finish(p, 60), 0);
    tu_gate_destroy(gate);
#else
    tu_skip("the name the OS shows is read from /proc/<pid>/comm, set by prctl(PR_SET_NAME): Linux only (and not "
            "with MPROC_FORCE_FALLBACKS)");
#endif
}

/* Every child names the thread that runs its target (under thread, only
 * that thread): it reads the name back itself and returns 0 when it is
 * arg 0, 1 when the OS cannot tell. */
#if defined(_WIN32)
typedef HRESULT(WINAPI *get_description_fn)(HANDLE thread, PWSTR *description);

static int read_thread_name(char *buf, size_t cap)
{
    HMODULE kernel = GetModuleHandleW(L"kernel32.dll");
    get_description_fn get = NULL;
    PWSTR wide = NULL;
    int n;
    if (kernel)
        get = (get_description_fn)(void (*)(void))GetProcAddress(kernel, "GetThreadDescription");
    if (!get || FAILED(get(GetCurrentThread(), &wide)))
        return -1;
    n = WideCharToMultiByte(CP_UTF8, 0, wide, -1, buf, (int)cap, NULL, NULL);
    LocalFree(wide);
    return n > 0 ? 0 : -1;
}
#elif MPROC_HAVE_PR_SET_NAME && MPROC_HAVE_PROCFS
static int read_thread_name(char *buf, size_t cap)
{
    FILE *f = fopen("/proc/thread-self/comm", "r");
    if (!f)
        return -1;
    if (!fgets(buf, (int)cap, f))
        buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}
#else
static int read_thread_name(char *buf, size_t cap)
{
    (void)buf;
    (void)cap;
    return -1;
}
#endif

static int report_thread_name(mproc_args *a)
{
    char name[64] = "";
    if (read_thread_name(name, sizeof name) != 0)
        return 1;
    return strcmp(name, mproc_args_str(a, 0)) == 0 ? 0 : 2;
}
MPROC_TARGET(report_thread_name);

static void test_child_reads_its_name_back_from_the_os(void)
{
    char name[64];
    mproc_args *a;
    mproc_process *p;
    int code;

    TU_SKIP_IF(read_thread_name(name, sizeof name) != 0,
               "the OS cannot say the thread's name here (Linux: /proc/thread-self/comm and prctl(PR_SET_NAME), "
               "absent with MPROC_FORCE_FALLBACKS; Windows: GetThreadDescription, since Windows 10 1607)");
    a = mproc_args_new();
    mproc_args_add_str(a, "named-by-mproc");
    p = mproc_process_new(NULL, report_thread_name, a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(mproc_process_set_name(p, "named-by-mproc"), 0);
    CU_ASSERT_EQUAL_FATAL(mproc_process_start(p), 0);
    code = tu_finish(p, 60);
    if (code == 1)
        tu_skip_part("the name read back", "the child's OS cannot say its thread's name");
    else
        CU_ASSERT_EQUAL(code, 0);
}

static mproc_process *start_waiter(const char *gate)
{
    mproc_args *a = mproc_args_new();
    mproc_args_add_str(a, gate);
    return tu_start(wait_gate, a);
}

static int listed(mproc_process **out, int n, mproc_process *p)
{
    for (int i = 0; i < n; i++)
        if (out[i] == p)
            return 1;
    return 0;
}

static void test_active_children_lists_started_unjoined_children(void)
{
    char g1[64], g2[64];
    mproc_process *out[8], *p1, *p2, *unstarted;
    void *objs[1];
    int n, code = -1;

    tu_gate_name(g1);
    tu_gate_name(g2);
    CU_ASSERT_EQUAL_FATAL(tu_gate_create(g1), 0);
    CU_ASSERT_EQUAL_FATAL(tu_gate_create(g2), 0);
    CU_ASSERT_EQUAL(mproc_active_children(NULL, 0), 0);
    CU_ASSERT_EQUAL(mproc_active_children(NULL, 1), MPROC_EINVAL);
    unstarted = mproc_process_new(NULL, wait_gate, NULL);
    p1 = start_waiter(g1);
    p2 = start_waiter(g2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p2);

    n = mproc_active_children(out, 8);
    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT(listed(out, n, p1) && listed(out, n, p2));
    CU_ASSERT(!listed(out, n, unstarted));
    /* Too small an array: the count still says how many there are. */
    CU_ASSERT_EQUAL(mproc_active_children(out, 1), 2);
    CU_ASSERT(out[0] == p1 || out[0] == p2);

    /* Joined: no longer listed. */
    CU_ASSERT_EQUAL(tu_gate_release(g1), 0);
    CU_ASSERT_EQUAL(mproc_process_join(p1, 60), 0);
    n = mproc_active_children(out, 8);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT(listed(out, n, p2));

    /* Ended but not joined: reaped by the call, its exit code recorded. */
    CU_ASSERT_EQUAL(tu_gate_release(g2), 0);
    objs[0] = p2;
    CU_ASSERT_EQUAL(mproc_wait(objs, 1, 60, NULL), 1);
    CU_ASSERT_EQUAL(mproc_active_children(out, 8), 0);
    CU_ASSERT_EQUAL(mproc_process_exitcode(p2, &code), 0);
    CU_ASSERT_EQUAL(code, 0);

    CU_ASSERT_EQUAL(tu_finish(p1, 60), 0);
    CU_ASSERT_EQUAL(tu_finish(p2, 60), 0);
    mproc_process_free(unstarted);
    tu_gate_destroy(g1);
    tu_gate_destroy(g2);
}

/* A child whose object was freed while it ran is the library's now: never
 * handed out. */
static void test_active_children_skips_freed_running_children(void)
{
    char gate[64];
    mproc_process *out[4], *p;

    tu_gate_name(gate);
    CU_ASSERT_EQUAL_FATAL(tu_gate_create(gate), 0);
    p = start_waiter(gate);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(mproc_active_children(out, 4), 1);
    mproc_process_free(p);
    CU_ASSERT_EQUAL(mproc_active_children(out, 4), 0);
    CU_ASSERT_EQUAL(tu_gate_release(gate), 0);
    tu_gate_destroy(gate);
}

/* A pool's workers are the pool's. */
static void test_active_children_skips_pool_workers(void)
{
    mproc_process *out[4];
    mproc_pool *pool = mproc_pool_new(NULL, 2, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
    CU_ASSERT_EQUAL(mproc_active_children(out, 4), 0);
    mproc_pool_free(pool);
}

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
#elif defined(_WIN32)
    DWORD_PTR saved = 0, system = 0;

    tu_setenv("MPROC_CPU_COUNT", NULL);
    CU_ASSERT_FATAL(GetProcessAffinityMask(GetCurrentProcess(), &saved, &system) != 0);
    TU_SKIP_IF(saved == 0, "this process spans several processor groups: no single affinity mask");
    /* As `start /affinity 1` would, restored after. */
    CU_ASSERT_FATAL(SetProcessAffinityMask(GetCurrentProcess(), saved & (~saved + 1)) != 0);
    CU_ASSERT_EQUAL(mproc_cpu_count(), 1);
    CU_ASSERT(SetProcessAffinityMask(GetCurrentProcess(), saved) != 0);
#else
    tu_skip("no sched_getaffinity here (macOS, or MPROC_FORCE_FALLBACKS): the affinity cannot be narrowed from the "
            "test");
#endif
}

static CU_TestInfo tests[] = {
    TU_TEST(test_main_process_is_mainprocess),
    TU_TEST(test_child_sees_its_name_pid_daemon_and_method),
    TU_TEST(test_child_sees_its_default_name),
    TU_TEST(test_parent_pid_is_the_real_parent),
    TU_TEST(test_os_shows_the_truncated_name),
    TU_TEST(test_child_reads_its_name_back_from_the_os),
    TU_TEST(test_active_children_lists_started_unjoined_children),
    TU_TEST(test_active_children_skips_freed_running_children),
    TU_TEST(test_active_children_skips_pool_workers),
    TU_TEST(test_cpu_count_env_overrides_and_bad_values_are_ignored),
    TU_TEST(test_cpu_count_follows_affinity),
    CU_TEST_INFO_NULL,
};

static void reg(void) { tu_add_suite("identity", tests); }

int main(int argc, char **argv) { return tu_main(argc, argv, reg); }
