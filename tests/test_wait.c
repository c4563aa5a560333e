/* mproc_wait on queues and events beside processes and connections, and a
 * process's sentinel handed to a plain poll() / WaitForSingleObject, under
 * the start method in MPROC_START_METHOD. */
#include <stdio.h>
#include <string.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <poll.h>
#endif

#include "internal.h" /* mproc__queue_read_ahead */
#include "testutil.h"

/* 1 when the sentinel is ready within timeout seconds, 0 if not, -1 on error. */
static int sentinel_ready(intptr_t s, double timeout)
{
#ifdef _WIN32
    DWORD r = WaitForSingleObject((HANDLE)s, timeout < 0 ? INFINITE : (DWORD)(timeout * 1000));
    return r == WAIT_OBJECT_0 ? 1 : r == WAIT_TIMEOUT ? 0 : -1;
#else
    struct pollfd p = {(int)s, POLLIN, 0};
    int r = poll(&p, 1, timeout < 0 ? -1 : (int)(timeout * 1000));
    return r < 0 ? -1 : r > 0;
#endif
}

/* ---- targets ----------------------------------------------------------------- */

/* Says it is about to wait (event arg 2), then waits on queue arg 0 and
 * event arg 1.  Returns 1 (the queue ready), 2 (the event), 3 (both), 99
 * (nothing in 60 s), or 100 + the error. */
static int wait_queue_or_event(mproc_args *a)
{
    void *objs[2] = {mproc_args_queue(a, 0), mproc_args_event(a, 1)};
    int ready[2] = {-1, -1}, rc;
    if (mproc_event_set(mproc_args_event(a, 2)) != 0)
        return 98;
    rc = mproc_wait(objs, 2, 60, ready);
    if (rc < 0)
        return 100 - rc;
    if (rc == 0)
        return 99;
    if (rc != ready[0] + ready[1])
        return 97;
    if (ready[0]) {
        /* Ready means an item can be got. */
        void *d;
        size_t n;
        if (mproc_queue_get(objs[0], &d, &n, 10) != 0)
            return 96;
        mproc_free(d);
    }
    return ready[0] | ready[1] << 1;
}
MPROC_TARGET(wait_queue_or_event);

static int wait_gate(mproc_args *a) { return tu_gate_wait(mproc_args_str(a, 0), 60) == 0 ? (int)mproc_args_i64(a, 1) : 99; }
MPROC_TARGET(wait_gate);

/* ---- a worker blocked on a queue and an event --------------------------------- */

/* Starts wait_queue_or_event on q and e; returns once it is about to wait. */
static mproc_process *start_waiter(mproc_queue *q, mproc_event *e, mproc_event *waiting)
{
    mproc_args *a = mproc_args_new();
    mproc_process *p;
    mproc_args_add_queue(a, q);
    mproc_args_add_event(a, e);
    mproc_args_add_event(a, waiting);
    p = tu_start(wait_queue_or_event, a);
    CU_ASSERT_EQUAL(mproc_event_wait(waiting, 60), 0);
    return p;
}

static void test_worker_waiting_on_a_queue_and_an_event_wakes_for_an_item(void)
{
    mproc_queue *q = mproc_queue_new(NULL, 0);
    mproc_event *e = mproc_event_new(NULL), *waiting = mproc_event_new(NULL);
    mproc_process *p;
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    p = start_waiter(q, e, waiting);
    CU_ASSERT_EQUAL(mproc_queue_put(q, "item", 4, -1), 0);
    CU_ASSERT_EQUAL(tu_finish(p, 60), 1);
    mproc_event_free(waiting);
    mproc_event_free(e);
    mproc_queue_free(q);
}

static void test_worker_waiting_on_a_queue_and_an_event_wakes_for_the_event(void)
{
    mproc_queue *q = mproc_queue_new(NULL, 0);
    mproc_event *e = mproc_event_new(NULL), *waiting = mproc_event_new(NULL);
    mproc_process *p;
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    p = start_waiter(q, e, waiting);
    CU_ASSERT_EQUAL(mproc_event_set(e), 0);
    CU_ASSERT_EQUAL(tu_finish(p, 60), 2);
    mproc_event_free(waiting);
    mproc_event_free(e);
    mproc_queue_free(q);
}

/* ---- in the caller ------------------------------------------------------------- */

static void test_wait_on_a_queue_and_an_event_times_out_with_zero(void)
{
    mproc_queue *q = mproc_queue_new(NULL, 0);
    mproc_event *e = mproc_event_new(NULL);
    void *objs[2] = {q, e};
    int ready[2] = {-1, -1};
    double t0 = tu_now();
    CU_ASSERT_EQUAL(mproc_wait(objs, 2, 0.2, ready), 0);
    CU_ASSERT(tu_now() - t0 >= 0.2);
    CU_ASSERT_EQUAL(ready[0], 0);
    CU_ASSERT_EQUAL(ready[1], 0);
    CU_ASSERT_EQUAL(mproc_wait(objs, 2, 0, ready), 0);
    mproc_event_free(e);
    mproc_queue_free(q);
}

/* Items a get read beyond its own wait in shared memory, not in the pipe:
 * they are ready all the same. */
static void test_wait_sees_items_in_a_queues_read_ahead(void)
{
    mproc_queue *q = mproc_queue_new(mproc_get_context(tu_process_method()), 0);
    void *objs[1] = {q}, *d = NULL;
    size_t n;
    int ready[1] = {-1};
    CU_ASSERT_EQUAL(mproc_queue_put(q, "one", 3, -1), 0);
    CU_ASSERT_EQUAL(mproc_queue_put(q, "two", 3, -1), 0);
    /* Both in the pipe before the first get, so that it reads both. */
    CU_ASSERT_EQUAL(mproc_wait(objs, 1, 60, ready), 1);
    while (mproc__queue_read_ahead(q) == 0 && mproc_queue_get(q, &d, &n, 60) == 0) {
        mproc_free(d);
        d = NULL;
        if (mproc__queue_read_ahead(q) == 0) /* the feeder wrote them apart: try again */
            CU_ASSERT_EQUAL_FATAL(mproc_queue_put(q, "again", 5, -1), 0);
    }
    CU_ASSERT_FATAL(mproc__queue_read_ahead(q) > 0);
    CU_ASSERT_EQUAL(mproc_wait(objs, 1, 0, ready), 1);
    CU_ASSERT_EQUAL(ready[0], 1);
    mproc_queue_free(q);
}

static void test_wait_on_a_mixed_list_reports_each_as_it_becomes_ready(void)
{
    char gate[64];
    mproc_args *a = mproc_args_new();
    mproc_queue *q = mproc_queue_new(NULL, 0);
    mproc_event *e = mproc_event_new(NULL);
    mproc_conn *rd = NULL, *wr = NULL;
    mproc_process *p;
    void *objs[4];
    int ready[4] = {-1, -1, -1, -1};
    void *d = NULL;
    size_t n;

    tu_gate_name(gate);
    CU_ASSERT_EQUAL_FATAL(tu_gate_create(gate), 0);
    mproc_args_add_str(a, gate);
    mproc_args_add_i64(a, 5);
    p = tu_start(wait_gate, a);
    CU_ASSERT_EQUAL_FATAL(mproc_pipe(NULL, 0, &rd, &wr), 0);
    objs[0] = p;
    objs[1] = rd;
    objs[2] = q;
    objs[3] = e;
    CU_ASSERT_EQUAL(mproc_wait(objs, 4, 0, ready), 0);

    CU_ASSERT_EQUAL(mproc_conn_send(wr, "m", 1), 0);
    CU_ASSERT_EQUAL(mproc_wait(objs, 4, 60, ready), 1);
    CU_ASSERT(ready[1] == 1 && ready[0] == 0 && ready[2] == 0 && ready[3] == 0);
    CU_ASSERT_EQUAL(mproc_conn_recv(rd, &d, &n, 10), 0);
    mproc_free(d);

    CU_ASSERT_EQUAL(mproc_queue_put(q, "i", 1, -1), 0);
    CU_ASSERT_EQUAL(mproc_wait(objs, 4, 60, ready), 1);
    CU_ASSERT(ready[2] == 1 && ready[0] == 0 && ready[1] == 0 && ready[3] == 0);
    CU_ASSERT_EQUAL(mproc_queue_get(q, &d, &n, 10), 0);
    mproc_free(d);

    CU_ASSERT_EQUAL(mproc_event_set(e), 0);
    CU_ASSERT_EQUAL(mproc_wait(objs, 4, 60, ready), 1);
    CU_ASSERT(ready[3] == 1 && ready[0] == 0 && ready[1] == 0 && ready[2] == 0);
    CU_ASSERT_EQUAL(mproc_event_clear(e), 0);

    CU_ASSERT_EQUAL(tu_gate_release(gate), 0);
    CU_ASSERT_EQUAL(mproc_wait(objs, 4, 60, ready), 1);
    CU_ASSERT(ready[0] == 1 && ready[1] == 0 && ready[2] == 0 && ready[3] == 0);

    CU_ASSERT_EQUAL(tu_finish(p, 60), 5);
    tu_gate_destroy(gate);
    mproc_conn_close(rd);
    mproc_conn_close(wr);
    mproc_event_free(e);
    mproc_queue_free(q);
}

static void test_wait_refuses_unknown_objects_beside_queues_and_events(void)
{
    int not_an_object = 0;
    mproc_event *e = mproc_event_new(NULL);
    void *objs[2] = {e, &not_an_object};
    CU_ASSERT_EQUAL(mproc_wait(objs, 2, 0, NULL), MPROC_EINVAL);
    mproc_event_free(e);
}

/* ---- sentinels ------------------------------------------------------------------- */

static void test_sentinel_signals_the_end_and_join_zero_then_reaps(void)
{
    char gate[64];
    mproc_args *a = mproc_args_new();
    mproc_process *p;
    intptr_t s = -1;
    int code = -1;

    tu_gate_name(gate);
    CU_ASSERT_EQUAL_FATAL(tu_gate_create(gate), 0);
    mproc_args_add_str(a, gate);
    mproc_args_add_i64(a, 7);
    p = tu_start(wait_gate, a);
    CU_ASSERT_EQUAL_FATAL(mproc_process_sentinel(p, &s), 0);
    CU_ASSERT_EQUAL(sentinel_ready(s, 0), 0);
    CU_ASSERT_EQUAL(tu_gate_release(gate), 0);
    CU_ASSERT_EQUAL(sentinel_ready(s, 60), 1);
    CU_ASSERT_EQUAL(mproc_process_join(p, 0), 0);
    CU_ASSERT_EQUAL(mproc_process_exitcode(p, &code), 0);
    CU_ASSERT_EQUAL(code, 7);
    /* Still the process's after the join, and still ready. */
    CU_ASSERT_EQUAL(sentinel_ready(s, 0), 1);
    mproc_process_free(p);
    tu_gate_destroy(gate);
}

static void test_sentinel_before_start_is_estate(void)
{
    mproc_process *p = mproc_process_new(NULL, wait_gate, NULL);
    intptr_t s = -1;
    CU_ASSERT_EQUAL(mproc_process_sentinel(p, &s), MPROC_ESTATE);
    CU_ASSERT_EQUAL(mproc_process_sentinel(p, NULL), MPROC_EINVAL);
    CU_ASSERT_EQUAL(mproc_process_sentinel(NULL, &s), MPROC_EINVAL);
    mproc_process_free(p);
}

static CU_TestInfo tests[] = {
    TU_TEST(test_worker_waiting_on_a_queue_and_an_event_wakes_for_an_item),
    TU_TEST(test_worker_waiting_on_a_queue_and_an_event_wakes_for_the_event),
    TU_TEST(test_wait_on_a_queue_and_an_event_times_out_with_zero),
    TU_TEST(test_wait_sees_items_in_a_queues_read_ahead),
    TU_TEST(test_wait_on_a_mixed_list_reports_each_as_it_becomes_ready),
    TU_TEST(test_wait_refuses_unknown_objects_beside_queues_and_events),
    TU_TEST(test_sentinel_signals_the_end_and_join_zero_then_reaps),
    TU_TEST(test_sentinel_before_start_is_estate),
    CU_TEST_INFO_NULL,
};

static void reg(void) { tu_add_suite("wait", tests); }

int main(int argc, char **argv) { return tu_main(argc, argv, reg); }
