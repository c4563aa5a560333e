/* Fork safety: the library's locks are consistent in a forked child even
 * when another thread holds them at the moment of fork, and forking a
 * multi-threaded process is reported through the log hook. */
#include "testutil.h"

#ifdef _WIN32
int main(void) { return tu_skip_program("fork_safety", "Windows has no fork()"); }
#else

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "internal.h"

static atomic_int stop;

/* Takes and releases the library's global lock as fast as it can. */
static void *hammer(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        mproc__plat_global_lock();
        mproc__plat_global_unlock();
    }
    return NULL;
}

/* Uses the global lock in the child: hangs if the child was born with it held. */
static int use_library(mproc_args *a)
{
    (void)a;
    return mproc_get_start_method() != 0 && mproc_register_target("late", use_library) == 0 ? 0 : 1;
}

static void quiet(int level, const char *msg, void *ud)
{
    (void)level;
    (void)msg;
    (void)ud;
}

static void test_fork_while_another_thread_holds_the_lock(void)
{
    pthread_t t;
    int failures = 0;
    mproc_set_log_handler(quiet, NULL);
    atomic_store(&stop, 0);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, hammer, NULL), 0);
    for (int i = 0; i < 200 && failures == 0; i++) {
        mproc_process *p = mproc_process_new(mproc_get_context(MPROC_FORK), use_library, NULL);
        int code = -1;
        if (!p || mproc_process_start(p) != 0) {
            failures++;
        } else if (mproc_process_join(p, 10) != 0) {
            /* Deadlocked child: kill it so the test ends. */
            mproc_process_kill(p);
            mproc_process_join(p, -1);
            failures++;
        } else if (mproc_process_exitcode(p, &code) != 0 || code != 0) {
            failures++;
        }
        mproc_process_free(p);
    }
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    mproc_set_log_handler(NULL, NULL);
    CU_ASSERT_EQUAL(failures, 0);
}

static int warnings;
static char last_warning[512];

static void record(int level, const char *msg, void *ud)
{
    (void)ud;
    if (level == MPROC_LOG_WARNING) {
        warnings++;
        strncpy(last_warning, msg, sizeof last_warning - 1);
    }
}

static void *park(void *arg)
{
    /* Blocks until the test lets it go: a second thread exists meanwhile. */
    char *gate = arg;
    tu_gate_wait(gate, 60);
    return NULL;
}

static int return_zero(mproc_args *a)
{
    (void)a;
    return 0;
}

static void run_fork_child(void)
{
    mproc_process *p = mproc_process_new(mproc_get_context(MPROC_FORK), return_zero, NULL);
    CU_ASSERT_EQUAL(mproc_process_start(p), 0);
    CU_ASSERT_EQUAL(mproc_process_join(p, 60), 0);
    mproc_process_free(p);
}


static void test_fork_with_threads_warns_through_the_log_hook(void)
{
    char gate[64];
    pthread_t t;

    TU_SKIP_IF(mproc__plat_thread_count() < 0,
               "this build cannot count the process's threads (no /proc, proc_pidinfo or kinfo_proc: "
               "only threads mproc started are seen, see the next test)");
    warnings = 0;
    mproc_set_log_handler(record, NULL);
    run_fork_child();
#ifdef UNDER_TSAN
    warnings = 0; /* ThreadSanitizer runs a thread of its own: never single-threaded */
#else
    CU_ASSERT_EQUAL(warnings, 0); /* single-threaded: no warning */
#endif

    tu_gate_name(gate);
    CU_ASSERT_EQUAL_FATAL(tu_gate_create(gate), 0);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, park, gate), 0);
    run_fork_child();
    CU_ASSERT_EQUAL(warnings, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(last_warning, "multi-threaded"));
    tu_gate_release(gate);
    pthread_join(t, NULL);
    tu_gate_destroy(gate);
    mproc_set_log_handler(NULL, NULL);
}

static int wait_for_gate(mproc_args *a) { return tu_gate_wait(mproc_args_str(a, 0), 60) == 0 ? 0 : 1; }

/* Wherever the OS cannot count threads, those mproc started still count. */
static void test_fork_while_an_mproc_thread_runs_warns(void)
{
    char gate[64];
    mproc_args *a = mproc_args_new();
    mproc_process *t;

    tu_gate_name(gate);
    CU_ASSERT_EQUAL_FATAL(tu_gate_create(gate), 0);
    mproc_args_add_str(a, gate);
    t = mproc_process_new(mproc_get_context(MPROC_THREAD), wait_for_gate, a);
    CU_ASSERT_EQUAL_FATAL(mproc_process_start(t), 0);
    warnings = 0;
    mproc_set_log_handler(record, NULL);
    run_fork_child();
    mproc_set_log_handler(NULL, NULL);
    CU_ASSERT_EQUAL(warnings, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(last_warning, "multi-threaded"));
    tu_gate_release(gate);
    CU_ASSERT_EQUAL(tu_finish(t, 60), 0);
    tu_gate_destroy(gate);
}

/* ---- objects a thread was using at the moment of fork ------------------- */

static mproc_conn *reader_end;
static atomic_int receiving;

static void *receive_until_told(void *arg)
{
    void *d = NULL;
    size_t n;
    (void)arg;
    atomic_store(&receiving, 1);
    /* Holds the connection's receive lock while it waits. */
    mproc_conn_recv(reader_end, &d, &n, 60);
    mproc_free(d);
    return NULL;
}

/* In the child: the same connection must still be usable (nothing to read,
 * so a short receive times out instead of hanging on a lock nobody will
 * ever release). */
static int receive_briefly(mproc_args *a)
{
    void *d = NULL;
    size_t n;
    (void)a;
    return mproc_conn_recv(reader_end, &d, &n, 0.2) == MPROC_ETIMEDOUT ? 0 : 1;
}

static void test_fork_while_a_thread_waits_in_conn_recv(void)
{
    int failures = 0;
    mproc_set_log_handler(quiet, NULL);
    for (int round = 0; round < 20; round++) {
        mproc_conn *writer_end;
        mproc_process *p;
        pthread_t t;
        int code = -1;
        CU_ASSERT_EQUAL_FATAL(mproc_pipe(NULL, 0, &reader_end, &writer_end), 0);
        atomic_store(&receiving, 0);
        CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, receive_until_told, NULL), 0);
        /* The thread is a few instructions from taking the receive lock. */
        while (!atomic_load(&receiving))
            ;
        p = mproc_process_new(mproc_get_context(MPROC_FORK), receive_briefly, NULL);
        CU_ASSERT_EQUAL_FATAL(mproc_process_start(p), 0);
        if (mproc_process_join(p, 10) != 0) {
            /* Hung on the inherited lock: end it so the test ends. */
            mproc_process_kill(p);
            mproc_process_join(p, -1);
        }
        if (mproc_process_exitcode(p, &code) != 0 || code != 0)
            failures++;
        mproc_process_free(p);
        CU_ASSERT_EQUAL(mproc_conn_send(writer_end, "go", 2), 0);
        pthread_join(t, NULL);
        mproc_conn_close(reader_end);
        mproc_conn_close(writer_end);
    }
    mproc_set_log_handler(NULL, NULL);
    CU_ASSERT_EQUAL(failures, 0);
}

static CU_TestInfo tests[] = {
    TU_TEST(test_fork_while_another_thread_holds_the_lock),
    TU_TEST(test_fork_while_a_thread_waits_in_conn_recv),
    TU_TEST(test_fork_with_threads_warns_through_the_log_hook),
    TU_TEST(test_fork_while_an_mproc_thread_runs_warns),
    CU_TEST_INFO_NULL,
};

static void reg(void) { tu_add_suite("fork_safety", tests); }

int main(int argc, char **argv) { return tu_main(argc, argv, reg); }

#endif /* _WIN32 */
