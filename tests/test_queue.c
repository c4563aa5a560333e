/* Queues across processes (or threads) under the start method being tested. */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "testutil.h"

/* ---- one producer keeps its order --------------------------------------- */

static int put_numbers(mproc_args *a)
{
    mproc_queue *q = mproc_args_queue(a, 0);
    int64_t n = mproc_args_i64(a, 1);
    for (int64_t i = 0; i < n; i++)
        if (mproc_queue_put(q, &i, sizeof i, -1) != 0)
            return 1;
    return 0;
}
MPROC_TARGET(put_numbers);

/* ---- many producers and consumers: nothing lost, doubled or corrupted --- */

#define PRODUCERS 4
#define CONSUMERS 4
#define PER_PRODUCER 50000 /* 4 x 4 x 50,000 each: 200,000 items in all (tu_cycles: a tenth
                              under the sanitizer, musl and Wine stages) */
#define MAX_ITEM (200 * 1024)

typedef struct {
    uint32_t producer, seq, sum, len;
} item_head;

typedef struct {
    atomic_uint seen[PRODUCERS][(PER_PRODUCER + 31) / 32];
    atomic_long duplicates, corrupt, received;
    atomic_long disorder; /* a consumer got a producer's item after a later one of it */
} tally;

static uint32_t checksum(const unsigned char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

/* Mostly small items, some up to 200 KiB: across PIPE_BUF, the pipe's
 * capacity and the feeder's batches, with a total that stays quick. */
static size_t item_size(uint32_t *rng)
{
    *rng = *rng * 1664525u + 1013904223u;
    if ((*rng >> 24) < 16) /* 1 in 16 */
        return (*rng >> 8) % (MAX_ITEM + 1);
    return (*rng >> 8) % 4097;
}

static int produce(mproc_args *a)
{
    mproc_queue *q = mproc_args_queue(a, 0);
    uint32_t me = (uint32_t)mproc_args_i64(a, 1), rng = 7919u * (me + 1);
    uint32_t count = (uint32_t)mproc_args_i64(a, 2);
    unsigned char *buf = malloc(sizeof(item_head) + MAX_ITEM);
    for (uint32_t seq = 0; seq < count; seq++) {
        item_head h = {me, seq, 0, (uint32_t)item_size(&rng)};
        for (uint32_t i = 0; i < h.len; i++)
            buf[sizeof h + i] = (unsigned char)(seq * 7 + i * 13 + me);
        h.sum = checksum(buf + sizeof h, h.len);
        memcpy(buf, &h, sizeof h);
        if (mproc_queue_put(q, buf, sizeof h + h.len, -1) != 0) {
            free(buf);
            return 1;
        }
    }
    free(buf);
    return 0;
}
MPROC_TARGET(produce);

static int consume(mproc_args *a)
{
    mproc_queue *q = mproc_args_queue(a, 0);
    tally *t = mproc_shm_ptr(mproc_args_shm(a, 1));
    int64_t last[PRODUCERS] = {-1, -1, -1, -1};
    for (;;) {
        void *d;
        size_t n;
        item_head h;
        if (mproc_queue_get(q, &d, &n, 120) != 0)
            return 1;
        if (n == 0) { /* the sentinel */
            mproc_free(d);
            return 0;
        }
        memcpy(&h, d, sizeof h);
        atomic_fetch_add(&t->received, 1);
        if (n != sizeof h + h.len || h.producer >= PRODUCERS || h.seq >= PER_PRODUCER ||
            checksum((unsigned char *)d + sizeof h, h.len) != h.sum) {
            atomic_fetch_add(&t->corrupt, 1);
        } else if (atomic_fetch_or(&t->seen[h.producer][h.seq / 32], 1u << (h.seq % 32)) & (1u << (h.seq % 32))) {
            atomic_fetch_add(&t->duplicates, 1);
        } else {
            /* FIFO: what one consumer gets of one producer comes in the
             * order it was put, whoever else gets the rest. */
            atomic_fetch_add(&t->disorder, (int64_t)h.seq < last[h.producer]);
            last[h.producer] = h.seq;
        }
        mproc_free(d);
    }
}
MPROC_TARGET(consume);

/* Starts fn(a) in ctx (NULL: the method under test). */
static mproc_process *start_in(mproc_ctx *ctx, mproc_target_fn fn, mproc_args *a)
{
    mproc_process *p = mproc_process_new(ctx, fn, a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL_FATAL(mproc_process_start(p), 0);
    return p;
}

/* One producer started in ctx (NULL: the default) puts 0 .. n-1 through
 * q; they come out in that order, and q is empty after. */
static void check_in_order_through(mproc_ctx *ctx, mproc_queue *q, int64_t n)
{
    mproc_args *a = mproc_args_new();
    mproc_process *p;
    int64_t bad = 0;
    mproc_args_add_queue(a, q);
    mproc_args_add_i64(a, n);
    p = start_in(ctx, put_numbers, a);
    for (int64_t i = 0; i < n; i++) {
        void *d = NULL;
        size_t len = 0;
        int64_t v = -1;
        if (mproc_queue_get(q, &d, &len, 60) != 0 || len != sizeof v) {
            bad++;
            break;
        }
        memcpy(&v, d, sizeof v);
        bad += v != i;
        mproc_free(d);
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(tu_finish(p, 60), 0);
    CU_ASSERT_EQUAL(mproc_queue_empty(q), 1);
}

static void check_in_order(mproc_ctx *ctx, int64_t n)
{
    mproc_queue *q = mproc_queue_new(ctx, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    check_in_order_through(ctx, q, n);
    mproc_queue_free(q);
}

static void test_one_producers_items_arrive_in_order(void) { check_in_order(NULL, 5000); }

/* PRODUCERS put through q to CONSUMERS, all started in ctx. */
static void check_many_producers_and_consumers(mproc_ctx *ctx, mproc_queue *q)
{
    mproc_shm *shm = mproc_shm_new(NULL, sizeof(tally));
    tally *t = mproc_shm_ptr(shm);
    mproc_process *prod[PRODUCERS], *cons[CONSUMERS];
    long missing = 0;
    const int per_producer = tu_cycles(PER_PRODUCER);

    for (int i = 0; i < CONSUMERS; i++) {
        mproc_args *a = mproc_args_new();
        mproc_args_add_queue(a, q);
        mproc_args_add_shm(a, shm);
        cons[i] = start_in(ctx, consume, a);
    }
    for (int i = 0; i < PRODUCERS; i++) {
        mproc_args *a = mproc_args_new();
        mproc_args_add_queue(a, q);
        mproc_args_add_i64(a, i);
        mproc_args_add_i64(a, per_producer);
        prod[i] = start_in(ctx, produce, a);
    }
    for (int i = 0; i < PRODUCERS; i++)
        CU_ASSERT_EQUAL(tu_finish(prod[i], 600), 0);
    for (int i = 0; i < CONSUMERS; i++)
        CU_ASSERT_EQUAL(mproc_queue_put(q, "", 0, -1), 0);
    for (int i = 0; i < CONSUMERS; i++)
        CU_ASSERT_EQUAL(tu_finish(cons[i], 600), 0);
    for (int p = 0; p < PRODUCERS; p++)
        for (int s = 0; s < per_producer; s++)
            missing += !(atomic_load(&t->seen[p][s / 32]) & (1u << (s % 32)));
    CU_ASSERT_EQUAL(missing, 0);
    CU_ASSERT_EQUAL(atomic_load(&t->duplicates), 0);
    CU_ASSERT_EQUAL(atomic_load(&t->corrupt), 0);
    CU_ASSERT_EQUAL(atomic_load(&t->disorder), 0);
    CU_ASSERT_EQUAL(atomic_load(&t->received), (long)PRODUCERS * per_producer);
    mproc_queue_free(q);
    mproc_shm_free(shm);
}

static void test_many_producers_and_consumers_lose_nothing(void)
{
    check_many_producers_and_consumers(NULL, mproc_queue_new(NULL, 0));
}

/* ---- timeouts and the non-blocking calls -------------------------------- */

static void test_get_on_empty_queue_times_out_with_eempty(void)
{
    mproc_queue *q = mproc_queue_new(NULL, 0);
    void *d;
    size_t n;
    double t0 = tu_now(), dt;
    CU_ASSERT_EQUAL(mproc_queue_get(q, &d, &n, 0.1), MPROC_EEMPTY);
    dt = tu_now() - t0;
    CU_ASSERT(dt >= 0.1 && dt <= 0.6);
    t0 = tu_now();
    CU_ASSERT_EQUAL(mproc_queue_get_nowait(q, &d, &n), MPROC_EEMPTY);
    CU_ASSERT(tu_now() - t0 < 0.05);
    mproc_queue_free(q);
}

static void test_put_on_full_bounded_queue_times_out_with_efull(void)
{
    mproc_queue *q = mproc_queue_new(NULL, 2);
    size_t n = 9;
    double t0, dt;
    CU_ASSERT_EQUAL(mproc_queue_put(q, "a", 1, 0), 0);
    CU_ASSERT_EQUAL(mproc_queue_put_nowait(q, "b", 1), 0);
    CU_ASSERT_EQUAL(mproc_queue_full(q), 1);
    CU_ASSERT_EQUAL(mproc_queue_qsize(q, &n), 0);
    CU_ASSERT_EQUAL(n, 2);
    t0 = tu_now();
    CU_ASSERT_EQUAL(mproc_queue_put(q, "c", 1, 0.1), MPROC_EFULL);
    dt = tu_now() - t0;
    CU_ASSERT(dt >= 0.1 && dt <= 0.6);
    t0 = tu_now();
    CU_ASSERT_EQUAL(mproc_queue_put_nowait(q, "c", 1), MPROC_EFULL);
    CU_ASSERT(tu_now() - t0 < 0.05);
    {
        void *d;
        size_t len;
        CU_ASSERT_EQUAL(mproc_queue_get(q, &d, &len, 10), 0);
        CU_ASSERT(len == 1 && memcmp(d, "a", 1) == 0);
        mproc_free(d);
    }
    CU_ASSERT_EQUAL(mproc_queue_put_nowait(q, "c", 1), 0);
    mproc_queue_free(q);
}

static void test_qsize_empty_full_track_the_items(void)
{
    mproc_queue *q = mproc_queue_new(NULL, 0);
    size_t n = 99;
    void *d;
    CU_ASSERT_EQUAL(mproc_queue_empty(q), 1);
    CU_ASSERT_EQUAL(mproc_queue_full(q), 0);
    for (int i = 0; i < 3; i++)
        mproc_queue_put(q, "x", 1, -1);
    CU_ASSERT_EQUAL(mproc_queue_qsize(q, &n), 0);
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT_EQUAL(mproc_queue_empty(q), 0);
    CU_ASSERT_EQUAL(mproc_queue_get(q, &d, &n, 10), 0);
    mproc_free(d);
    CU_ASSERT_EQUAL(mproc_queue_qsize(q, &n), 0);
    CU_ASSERT_EQUAL(n, 2);
    mproc_queue_free(q);
}

/* ---- the read-ahead: one read serves many items -------------------------- */

/* Gets one item and checks it is the int64 0 (args: queue). */
static int get_first_number(mproc_args *a)
{
    void *d = NULL;
    size_t n = 0;
    int64_t v = -1;
    int rc = mproc_queue_get(mproc_args_queue(a, 0), &d, &n, 60);
    if (rc == 0 && n == sizeof v)
        memcpy(&v, d, sizeof v);
    mproc_free(d);
    return rc != 0 ? -rc : v == 0 ? 0 : 100;
}
MPROC_TARGET(get_first_number);

/* A SimpleQueue's put is in the pipe when it returns: the consumer's one
 * read brings all ten items, it takes the first, and the nine others wait
 * in the queue's shared read-ahead, where another process gets them
 * without waiting although the pipe is empty. */
static void test_items_read_ahead_by_one_consumer_are_got_by_another(void)
{
    mproc_queue *q = mproc_simple_queue_new(NULL);
    mproc_args *a = mproc_args_new();
    size_t n = 0;
    int64_t bad = 0;
    for (int64_t i = 0; i < 10; i++)
        CU_ASSERT_EQUAL(mproc_queue_put(q, &i, sizeof i, -1), 0);
    mproc_args_add_queue(a, q);
    CU_ASSERT_EQUAL(tu_finish(tu_start(get_first_number, a), 60), 0);
    CU_ASSERT_EQUAL(mproc__queue_read_ahead(q), 9 * (MPROC__MSG_HDR + sizeof(int64_t)));
    CU_ASSERT_EQUAL(mproc_queue_qsize(q, &n), 0);
    CU_ASSERT_EQUAL(n, 9);
    CU_ASSERT_EQUAL(mproc_queue_empty(q), 0);
    for (int64_t i = 1; i < 10; i++) {
        void *d = NULL;
        size_t len = 0;
        int64_t v = -1;
        if (mproc_queue_get_nowait(q, &d, &len) != 0 || len != sizeof v) {
            bad++;
            break;
        }
        memcpy(&v, d, sizeof v);
        bad += v != i;
        mproc_free(d);
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(mproc__queue_read_ahead(q), 0);
    CU_ASSERT_EQUAL(mproc_queue_empty(q), 1);
    {
        void *d = NULL;
        size_t len;
        CU_ASSERT_EQUAL(mproc_queue_get_nowait(q, &d, &len), MPROC_EEMPTY);
    }
    mproc_queue_free(q);
}

/* Sizes around the read-ahead's limits: empty, tiny, the largest frame it
 * keeps (16 KiB with its header), the smallest that bypasses it, its own
 * size and beyond, several pipes' worth. */
static const size_t mixed_sizes[] = {0, 1, 7, 64, 1000, 16376, 16377, 3, 65536, 2, 70000, 300000, 5, 16384};
#define MIXED_ITEMS 280

static unsigned char mixed_byte(int item, size_t i) { return (unsigned char)(item * 31 + i * 7 + (i >> 8)); }

static int put_mixed(mproc_args *a)
{
    mproc_queue *q = mproc_args_queue(a, 0);
    unsigned char *buf = malloc(300000);
    int rc = buf ? 0 : 1;
    for (int k = 0; k < MIXED_ITEMS && rc == 0; k++) {
        size_t len = mixed_sizes[k % (sizeof mixed_sizes / sizeof mixed_sizes[0])];
        for (size_t i = 0; i < len; i++)
            buf[i] = mixed_byte(k, i);
        rc = mproc_queue_put(q, buf, len, -1) != 0;
    }
    free(buf);
    return rc;
}
MPROC_TARGET(put_mixed);

static void test_small_and_large_items_interleaved_arrive_whole_in_order(void)
{
    mproc_queue *q = mproc_queue_new(NULL, 0);
    mproc_args *a = mproc_args_new();
    mproc_process *p;
    int got = 0, bad = 0;
    mproc_args_add_queue(a, q);
    p = tu_start(put_mixed, a);
    for (int k = 0; k < MIXED_ITEMS; k++) {
        size_t want = mixed_sizes[k % (sizeof mixed_sizes / sizeof mixed_sizes[0])], n = 0;
        unsigned char *d = NULL;
        if (mproc_queue_get(q, (void **)&d, &n, 60) != 0)
            break;
        got++;
        if (n != want) {
            bad++;
        } else {
            size_t i = 0;
            while (i < n && d[i] == mixed_byte(k, i))
                i++;
            bad += i != n;
        }
        mproc_free(d);
    }
    CU_ASSERT_EQUAL(got, MIXED_ITEMS);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(tu_finish(p, 60), 0);
    CU_ASSERT_EQUAL(mproc__queue_read_ahead(q), 0);
    mproc_queue_free(q);
}

/* ---- flushing at exit ---------------------------------------------------- */

static int put_many_and_return(mproc_args *a)
{
    mproc_queue *q = mproc_args_queue(a, 0);
    char item[1024];
    memset(item, 'q', sizeof item);
    for (int i = 0; i < 10000; i++)
        if (mproc_queue_put(q, item, sizeof item, -1) != 0)
            return 1;
    if (mproc_args_i64(a, 1))
        mproc_queue_cancel_join_thread(q);
    return 0;
}
MPROC_TARGET(put_many_and_return);

static void test_child_flushes_its_items_before_exiting(void)
{
    mproc_queue *q = mproc_queue_new(NULL, 0);
    mproc_args *a = mproc_args_new();
    mproc_process *p;
    int got = 0;
    mproc_args_add_queue(a, q);
    mproc_args_add_i64(a, 0);
    p = tu_start(put_many_and_return, a);
    /* 10 MB: more than the pipe holds, so the child waits for us at exit. */
    for (int i = 0; i < 10000; i++) {
        void *d;
        size_t n;
        if (mproc_queue_get(q, &d, &n, 60) != 0)
            break;
        got++;
        mproc_free(d);
    }
    CU_ASSERT_EQUAL(got, 10000);
    CU_ASSERT_EQUAL(tu_finish(p, 60), 0);
    mproc_queue_free(q);
}

static void test_cancel_join_thread_exits_without_waiting(void)
{
    mproc_queue *q = mproc_queue_new(NULL, 0);
    mproc_args *a = mproc_args_new();
    mproc_process *p;
    mproc_args_add_queue(a, q);
    mproc_args_add_i64(a, 1);
    p = tu_start(put_many_and_return, a);
    /* Nobody reads, yet the child ends. */
    CU_ASSERT_EQUAL(tu_finish(p, 30), 0);
    mproc_queue_free(q);
}

/* ---- a dead consumer breaks the queue instead of hanging it -------------- */

/* Holds the queue's reader lock mid-message (i64 arg 3 == 0; -1: after
 * getting an item, with the read-ahead holding more) or its writer lock
 * mid-header (1) or mid-body (the body's size), says so on event arg 1,
 * and waits to be killed. */
static int hold_lock_and_block(mproc_args *a)
{
    mproc_queue *q = mproc_args_queue(a, 0);
    int64_t how = mproc_args_i64(a, 3);
    int rc;
    if (how < 0) {
        void *d = NULL;
        size_t n;
        rc = mproc_queue_get(q, &d, &n, 60);
        mproc_free(d);
        if (rc != 0 || mproc__queue_read_ahead(q) == 0)
            return 3;
    }
    rc = how > 0 ? mproc__queue_hold_writer_mid_message(q, how > 1 ? (size_t)how : 0)
                 : mproc__queue_hold_reader_mid_message(q);
    if (rc != 0)
        return 1;
    mproc_event_set(mproc_args_event(a, 1));
    return tu_gate_wait(mproc_args_str(a, 2), 60) == 0 ? 0 : 2; /* killed before that */
}
MPROC_TARGET(hold_lock_and_block);

/* Starts hold_lock_and_block on q (how: as there) and returns once it
 * holds the lock. */
static mproc_process *start_lock_holder(mproc_queue *q, int how, mproc_event *mid, const char *gate)
{
    mproc_args *a = mproc_args_new();
    mproc_process *p;
    mproc_args_add_queue(a, q);
    mproc_args_add_event(a, mid);
    mproc_args_add_str(a, gate);
    mproc_args_add_i64(a, how);
    p = tu_start(hold_lock_and_block, a);
    CU_ASSERT_EQUAL(mproc_event_wait(mid, 60), 0);
    return p;
}

static int get_once(mproc_args *a)
{
    void *d = NULL;
    size_t n;
    int rc = mproc_queue_get(mproc_args_queue(a, 0), &d, &n, 30);
    mproc_free(d);
    return -rc;
}
MPROC_TARGET(get_once);

static void test_consumer_killed_mid_message_breaks_the_queue(void)
{
    int ok = 0;
    for (int round = 0; round < 20; round++) {
        mproc_queue *q = mproc_queue_new(NULL, 0);
        mproc_event *mid = mproc_event_new(NULL);
        mproc_args *b = mproc_args_new();
        mproc_process *victim, *other;
        char gate[64];
        double t0;
        void *d;
        size_t n;
        int other_code;
        tu_gate_name(gate);
        tu_gate_create(gate);
        mproc_queue_put(q, "a message that will be torn", 27, -1);
        victim = start_lock_holder(q, 0, mid, gate);
        mproc_args_add_queue(b, q);
        other = tu_start(get_once, b); /* blocks on the reader lock */
        t0 = tu_now();
        CU_ASSERT_EQUAL(mproc_process_kill(victim), 0);
        CU_ASSERT_EQUAL(tu_finish(victim, 60), -9);
        other_code = tu_finish(other, 60);
        CU_ASSERT_EQUAL(other_code, -MPROC_EBROKEN);
        /* Seconds, not get_once's 30 s: found dead, not timed out (a
         * margin for sanitizers on a loaded machine). */
        CU_ASSERT(tu_now() - t0 < 5.0);
        CU_ASSERT_EQUAL(mproc_queue_get(q, &d, &n, 1), MPROC_EBROKEN);
        CU_ASSERT_EQUAL(mproc_queue_put(q, "x", 1, 1), MPROC_EBROKEN);
        ok += other_code == -MPROC_EBROKEN;
        tu_gate_destroy(gate);
        mproc_event_free(mid);
        mproc_queue_cancel_join_thread(q);
        mproc_queue_free(q);
    }
    CU_ASSERT_EQUAL(ok, 20);
}

/* Killed while copying an item out of the read-ahead, with more items
 * waiting in it: nobody gets them, everybody gets MPROC_EBROKEN. */
static void test_consumer_killed_in_the_read_ahead_breaks_the_queue(void)
{
    mproc_queue *q = mproc_simple_queue_new(NULL);
    mproc_event *mid = mproc_event_new(NULL);
    mproc_process *victim;
    char gate[64];
    void *d = NULL;
    size_t n = 99;
    tu_gate_name(gate);
    tu_gate_create(gate);
    for (int i = 0; i < 5; i++)
        CU_ASSERT_EQUAL(mproc_queue_put(q, "read ahead", 10, -1), 0);
    victim = start_lock_holder(q, -1, mid, gate);
    CU_ASSERT_EQUAL(mproc_process_kill(victim), 0);
    CU_ASSERT_EQUAL(tu_finish(victim, 60), -9);
    CU_ASSERT_EQUAL(mproc_queue_get_nowait(q, &d, &n), MPROC_EBROKEN);
    CU_ASSERT_PTR_NULL(d);
    CU_ASSERT_EQUAL(mproc_queue_get(q, &d, &n, 1), MPROC_EBROKEN);
    CU_ASSERT_EQUAL(mproc_queue_put(q, "x", 1, 1), MPROC_EBROKEN);
    CU_ASSERT_EQUAL(mproc_queue_qsize(q, &n), MPROC_EBROKEN);
    CU_ASSERT_EQUAL(n, 0);
    tu_gate_destroy(gate);
    mproc_event_free(mid);
    mproc_queue_free(q);
}

/* A short timeout must not hide a holder that died long before. */
static void test_short_get_after_a_dead_reader_is_ebroken(void)
{
    mproc_queue *q = mproc_queue_new(NULL, 0);
    mproc_event *mid = mproc_event_new(NULL);
    mproc_process *victim;
    char gate[64];
    void *d = NULL;
    size_t n;
    int rc = 0;
    tu_gate_name(gate);
    tu_gate_create(gate);
    mproc_queue_put(q, "a message that will be torn", 27, -1);
    victim = start_lock_holder(q, 0, mid, gate);
    CU_ASSERT_EQUAL(mproc_process_kill(victim), 0);
    CU_ASSERT_EQUAL(tu_finish(victim, 60), -9); /* dead and reaped */
    /* Each get waits 0.05 s, less than any liveness slice. */
    for (int i = 0; i < 20 && (rc = mproc_queue_get(q, &d, &n, 0.05)) == MPROC_EEMPTY; i++)
        ;
    CU_ASSERT_EQUAL(rc, MPROC_EBROKEN);
    tu_gate_destroy(gate);
    mproc_event_free(mid);
    mproc_queue_cancel_join_thread(q);
    mproc_queue_free(q);
}

/* ---- a dead producer breaks the queue instead of hanging it ---------------- */

/* Puts one small item every 10 ms until a put fails (at most 30 s). */
static int put_until_failure(mproc_args *a)
{
    mproc_queue *q = mproc_args_queue(a, 0);
    mproc_event *never = mproc_args_event(a, 1);
    double end = tu_now() + 30;
    int rc = 0;
    while (rc == 0 && tu_now() < end) {
        rc = mproc_queue_put(q, "x", 1, 1);
        (void)mproc_event_wait(never, 0.01); /* pacing only: never set */
    }
    return -rc;
}
MPROC_TARGET(put_until_failure);

static void test_producer_killed_mid_write_breaks_the_queue(void)
{
    int ok = 0;
    for (int round = 0; round < 20; round++) {
        mproc_queue *q = mproc_queue_new(NULL, 0);
        mproc_event *mid = mproc_event_new(NULL), *never = mproc_event_new(NULL);
        mproc_args *b = mproc_args_new(), *c = mproc_args_new();
        mproc_process *victim, *getter, *putter;
        char gate[64];
        double t0, getter_done, putter_done;
        void *d;
        size_t n;
        int getter_code, putter_code;
        tu_gate_name(gate);
        tu_gate_create(gate);
        victim = start_lock_holder(q, 1, mid, gate);
        mproc_args_add_queue(b, q);
        getter = tu_start(get_once, b); /* reads half a header, waits for the rest */
        mproc_args_add_queue(c, q);
        mproc_args_add_event(c, never);
        putter = tu_start(put_until_failure, c); /* its feeder waits for the writer lock */
        t0 = tu_now();
        CU_ASSERT_EQUAL(mproc_process_kill(victim), 0);
        CU_ASSERT_EQUAL(mproc_process_join(victim, 60), 0);
        CU_ASSERT_EQUAL(mproc_process_join(getter, 60), 0);
        getter_done = tu_now() - t0;
        CU_ASSERT_EQUAL(mproc_process_join(putter, 60), 0);
        putter_done = tu_now() - t0;
        CU_ASSERT_EQUAL(tu_finish(victim, 0), -9);
        getter_code = tu_finish(getter, 0);
        putter_code = tu_finish(putter, 0);
        CU_ASSERT_EQUAL(getter_code, -MPROC_EBROKEN);
        CU_ASSERT_EQUAL(putter_code, -MPROC_EBROKEN);
        /* Seconds, not the putter's 30 s: found dead, not timed out (a
         * margin for sanitizers on a loaded machine). */
        CU_ASSERT(getter_done < 5.0);
        CU_ASSERT(putter_done < 5.0);
        CU_ASSERT_EQUAL(mproc_queue_get(q, &d, &n, 1), MPROC_EBROKEN);
        CU_ASSERT_EQUAL(mproc_queue_put(q, "x", 1, 1), MPROC_EBROKEN);
        ok += getter_code == -MPROC_EBROKEN && putter_code == -MPROC_EBROKEN && putter_done < 5.0;
        tu_gate_destroy(gate);
        mproc_event_free(mid);
        mproc_event_free(never);
        mproc_queue_cancel_join_thread(q);
        mproc_queue_free(q);
    }
    CU_ASSERT_EQUAL(ok, 20);
}

/* Puts small items, says so on event arg 1, then returns (its feeder
 * writes them, or finds the queue broken). */
static int put_some(mproc_args *a)
{
    mproc_queue *q = mproc_args_queue(a, 0);
    for (int i = 0; i < 50; i++)
        if (mproc_queue_put(q, "pppppppppppppppp", 16, 1) != 0)
            break;
    mproc_event_set(mproc_args_event(a, 1));
    return 0;
}
MPROC_TARGET(put_some);

/* Starts a get and says so on event arg 1 just before; returns -code, or
 * 100 for an item (which can only be torn: the victim's frame never ended). */
static int get_after_signal(mproc_args *a)
{
    void *d = NULL;
    size_t n;
    int rc;
    mproc_event_set(mproc_args_event(a, 1));
    rc = mproc_queue_get(mproc_args_queue(a, 0), &d, &n, 30);
    mproc_free(d);
    return rc == 0 ? 100 : -rc;
}
MPROC_TARGET(get_after_signal);

/* A producer killed in the middle of an item's body while others keep
 * putting: no other frame may complete its item (a torn item delivered as
 * a success); the reader gets MPROC_EBROKEN. */
static void test_no_torn_item_when_a_writer_dies_mid_body(void)
{
    int torn = 0, broken = 0;
    for (int round = 0; round < 20; round++) {
        mproc_queue *q = mproc_queue_new(NULL, 0);
        mproc_event *mid = mproc_event_new(NULL), *reading = mproc_event_new(NULL);
        mproc_event *put1 = mproc_event_new(NULL), *put2 = mproc_event_new(NULL);
        mproc_args *g = mproc_args_new(), *p1 = mproc_args_new(), *p2 = mproc_args_new();
        mproc_process *victim, *getter, *putter1, *putter2;
        char gate[64];
        int code;
        tu_gate_name(gate);
        tu_gate_create(gate);
        victim = start_lock_holder(q, 512, mid, gate); /* 256 body bytes missing */
        mproc_args_add_queue(g, q);
        mproc_args_add_event(g, reading);
        getter = tu_start(get_after_signal, g);
        mproc_args_add_queue(p1, q);
        mproc_args_add_event(p1, put1);
        putter1 = tu_start(put_some, p1);
        mproc_args_add_queue(p2, q);
        mproc_args_add_event(p2, put2);
        putter2 = tu_start(put_some, p2);
        CU_ASSERT_EQUAL(mproc_event_wait(reading, 60), 0);
        CU_ASSERT_EQUAL(mproc_event_wait(put1, 60), 0);
        CU_ASSERT_EQUAL(mproc_event_wait(put2, 60), 0);
        CU_ASSERT_EQUAL(mproc_process_kill(victim), 0);
        CU_ASSERT_EQUAL(tu_finish(victim, 60), -9);
        code = tu_finish(getter, 60);
        torn += code == 100;
        broken += code == -MPROC_EBROKEN;
        CU_ASSERT_EQUAL(tu_finish(putter1, 60), 0);
        CU_ASSERT_EQUAL(tu_finish(putter2, 60), 0);
        tu_gate_destroy(gate);
        mproc_event_free(mid);
        mproc_event_free(reading);
        mproc_event_free(put1);
        mproc_event_free(put2);
        mproc_queue_cancel_join_thread(q);
        mproc_queue_free(q);
    }
    if (torn)
        printf("\n    %d of 20 reads returned a torn item\n", torn);
    CU_ASSERT_EQUAL(torn, 0);
    CU_ASSERT_EQUAL(broken, 20);
}

/* ---- fork after use ------------------------------------------------------ */

static int put_tagged(mproc_args *a)
{
    mproc_queue *q = mproc_args_queue(a, 0);
    for (int i = 0; i < 100; i++) {
        int v = 1000 + i;
        if (mproc_queue_put(q, &v, sizeof v, -1) != 0)
            return 1;
    }
    return 0;
}
MPROC_TARGET(put_tagged);

static void test_queue_used_before_fork_works_in_the_child(void)
{
    mproc_queue *q = mproc_queue_new(NULL, 0);
    mproc_args *a = mproc_args_new();
    int seen[1100] = {0}, dups = 0, total = 0;
    for (int i = 0; i < 100; i++)
        mproc_queue_put(q, &i, sizeof i, -1); /* our feeder is running */
    mproc_args_add_queue(a, q);
    CU_ASSERT_EQUAL(tu_finish(tu_start(put_tagged, a), 60), 0);
    for (;;) {
        void *d;
        size_t n;
        int v;
        if (mproc_queue_get(q, &d, &n, 1) != 0)
            break;
        memcpy(&v, d, sizeof v);
        mproc_free(d);
        if (v >= 0 && v < 1100)
            dups += seen[v]++ > 0;
        total++;
    }
    CU_ASSERT_EQUAL(total, 200);
    CU_ASSERT_EQUAL(dups, 0);
    mproc_queue_free(q);
}

/* ---- SimpleQueue, JoinableQueue ------------------------------------------ */

static void test_simple_queue_puts_and_gets(void)
{
    mproc_queue *q = mproc_simple_queue_new(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    check_in_order_through(NULL, q, 300);
    mproc_queue_free(q);
}

static int work_and_mark_done(mproc_args *a)
{
    mproc_queue *q = mproc_args_queue(a, 0);
    for (int i = 0; i < 50; i++) {
        void *d;
        size_t n;
        if (mproc_queue_get(q, &d, &n, 60) != 0)
            return 1;
        mproc_free(d);
        if (mproc_queue_task_done(q) != 0)
            return 2;
    }
    return 0;
}
MPROC_TARGET(work_and_mark_done);

static void test_joinable_queue_join_waits_for_task_done(void)
{
    mproc_queue *q = mproc_joinable_queue_new(NULL, 0);
    mproc_args *a = mproc_args_new();
    mproc_process *p;
    CU_ASSERT_EQUAL(mproc_queue_task_done(q), MPROC_ESTATE);
    for (int i = 0; i < 50; i++)
        mproc_queue_put(q, &i, sizeof i, -1);
    mproc_args_add_queue(a, q);
    p = tu_start(work_and_mark_done, a);
    CU_ASSERT_EQUAL(mproc_queue_join(q), 0);
    CU_ASSERT_EQUAL(tu_finish(p, 60), 0);
    CU_ASSERT_EQUAL(mproc_queue_task_done(q), MPROC_ESTATE);
    mproc_queue_free(q);
}

static int join_queue(mproc_args *a) { return mproc_queue_join(mproc_args_queue(a, 0)); }

/* A put that fails leaves no unfinished task behind: join() returns. */
static void test_joinable_put_that_fails_counts_no_task(void)
{
    mproc_queue *q = mproc_joinable_queue_new(NULL, 0);
    mproc_args *a = mproc_args_new();
    mproc_process *joiner;
    size_t n = 99;
    mproc__fault_arm(MPROC__FAULT_FEEDER_START, 1); /* no thread for the feeder */
    CU_ASSERT_EQUAL(mproc_queue_put(q, "lost", 4, -1), MPROC_ESYS);
    mproc__fault_arm(MPROC__FAULT_FEEDER_START, 0);
    CU_ASSERT_EQUAL(mproc_queue_qsize(q, &n), 0);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_EQUAL(mproc_queue_task_done(q), MPROC_ESTATE); /* nothing unfinished */
    /* join() itself, in a daemon thread so a hang cannot outlive the test. */
    mproc_args_add_queue(a, q);
    joiner = mproc_process_new(mproc_get_context(MPROC_THREAD), join_queue, a);
    CU_ASSERT_EQUAL(mproc_process_set_daemon(joiner, 1), 0);
    CU_ASSERT_EQUAL_FATAL(mproc_process_start(joiner), 0);
    CU_ASSERT_EQUAL(mproc_process_join(joiner, 10), 0);
    mproc_process_free(joiner);
    mproc_queue_free(q);
}

/* Gets one item and returns without task_done (a consumer that dies
 * between its get and its task_done). */
static int get_and_return(mproc_args *a)
{
    void *d;
    size_t n;
    if (mproc_queue_get(mproc_args_queue(a, 0), &d, &n, 60) != 0)
        return 1;
    mproc_free(d);
    return 0;
}
MPROC_TARGET(get_and_return);

/* Gets one item, says so on the event, then waits to be killed (a gate
 * bounds the wait). */
static int get_and_hang(mproc_args *a)
{
    void *d;
    size_t n;
    if (mproc_queue_get(mproc_args_queue(a, 0), &d, &n, 60) != 0)
        return 1;
    mproc_free(d);
    if (mproc_event_set(mproc_args_event(a, 1)) != 0)
        return 2;
    return tu_gate_wait(mproc_args_str(a, 2), 60) == 0 ? 0 : 3;
}
MPROC_TARGET(get_and_hang);

static void test_join_timeout_is_zero_once_every_item_is_done(void)
{
    mproc_queue *q = mproc_joinable_queue_new(NULL, 0);
    mproc_args *a = mproc_args_new();
    mproc_process *p;
    CU_ASSERT_EQUAL(mproc_queue_join_timeout(q, 0), 0); /* nothing put */
    for (int i = 0; i < 50; i++)
        mproc_queue_put(q, &i, sizeof i, -1);
    mproc_args_add_queue(a, q);
    p = tu_start(work_and_mark_done, a);
    CU_ASSERT_EQUAL(mproc_queue_join_timeout(q, 60), 0);
    CU_ASSERT_EQUAL(tu_finish(p, 60), 0);
    CU_ASSERT_EQUAL(mproc_queue_join_timeout(q, 0), 0);
    mproc_queue_free(q);
}

static void test_join_timeout_times_out_when_the_consumer_returned_before_task_done(void)
{
    mproc_queue *q = mproc_joinable_queue_new(NULL, 0);
    mproc_args *a = mproc_args_new();
    mproc_process *p;
    double t0;
    int i = 1;
    CU_ASSERT_EQUAL(mproc_queue_put(q, &i, sizeof i, -1), 0);
    mproc_args_add_queue(a, q);
    p = tu_start(get_and_return, a);
    CU_ASSERT_EQUAL(tu_finish(p, 60), 0);
    t0 = tu_now();
    CU_ASSERT_EQUAL(mproc_queue_join_timeout(q, 0.2), MPROC_ETIMEDOUT);
    CU_ASSERT(tu_now() - t0 >= 0.2);
    CU_ASSERT_EQUAL(mproc_queue_join_timeout(q, 0), MPROC_ETIMEDOUT);
    /* Done late, by someone else: the join completes. */
    CU_ASSERT_EQUAL(mproc_queue_task_done(q), 0);
    CU_ASSERT_EQUAL(mproc_queue_join_timeout(q, 0), 0);
    mproc_queue_free(q);
}

static void test_join_timeout_times_out_when_the_consumer_was_killed_before_task_done(void)
{
    /* Killing needs a process: the thread method's consumer is a process of
     * the method its test run stands in for. */
    mproc_ctx *ctx = mproc_get_context(tu_process_method());
    mproc_queue *q = mproc_joinable_queue_new(ctx, 0);
    mproc_event *got = mproc_event_new(ctx);
    mproc_args *a = mproc_args_new();
    mproc_process *p;
    char gate[64];
    int i = 1, code = 0;
    tu_gate_name(gate);
    CU_ASSERT_EQUAL_FATAL(tu_gate_create(gate), 0);
    CU_ASSERT_EQUAL(mproc_queue_put(q, &i, sizeof i, -1), 0);
    mproc_args_add_queue(a, q);
    mproc_args_add_event(a, got);
    mproc_args_add_str(a, gate);
    p = mproc_process_new(ctx, get_and_hang, a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL_FATAL(mproc_process_start(p), 0);
    CU_ASSERT_EQUAL(mproc_event_wait(got, 60), 0);
    CU_ASSERT_EQUAL(mproc_process_kill(p), 0);
    CU_ASSERT_EQUAL(mproc_process_join(p, 60), 0);
    CU_ASSERT_EQUAL(mproc_process_exitcode(p, &code), 0);
    CU_ASSERT_NOT_EQUAL(code, 0);
    CU_ASSERT_EQUAL(mproc_queue_join_timeout(q, 0.2), MPROC_ETIMEDOUT);
    mproc_process_free(p);
    tu_gate_destroy(gate);
    mproc_event_free(got);
    mproc_queue_free(q);
}

static void test_join_timeout_refuses_a_queue_that_is_not_joinable(void)
{
    mproc_queue *q = mproc_queue_new(NULL, 0);
    CU_ASSERT_EQUAL(mproc_queue_join_timeout(q, 0), MPROC_EINVAL);
    CU_ASSERT_EQUAL(mproc_queue_join_timeout(NULL, 0), MPROC_EINVAL);
    mproc_queue_free(q);
}

/* ---- malformed data and leaks -------------------------------------------- */

static void test_garbage_in_the_pipe_breaks_the_queue(void)
{
    mproc_queue *q = mproc_queue_new(NULL, 0);
    static const char junk[] = "not a frame at all";
    void *d = NULL;
    size_t n;
    CU_ASSERT_EQUAL(mproc__write_fully(mproc__queue_write_handle(q), junk, sizeof junk), 0);
    CU_ASSERT_EQUAL(mproc_queue_get(q, &d, &n, 1), MPROC_EBROKEN);
    CU_ASSERT_PTR_NULL(d);
    CU_ASSERT_EQUAL(mproc_queue_put(q, "x", 1, 0), MPROC_EBROKEN);
    mproc_queue_free(q);
}

/* The hook may call the library: it must never run under the queue's lock. */
static int hook_calls, hook_saw_lock_held;

static void check_reader_lock(int level, const char *msg, void *ud)
{
    (void)level;
    (void)msg;
    hook_calls++;
    hook_saw_lock_held += !mproc__queue_reader_lock_free(ud);
}

static void test_log_hook_never_runs_under_the_reader_lock(void)
{
    mproc_queue *q = mproc_queue_new(NULL, 0);
    static const char junk[] = "not a frame at all";
    void *d = NULL;
    size_t n;
    hook_calls = hook_saw_lock_held = 0;
    mproc_set_log_handler(check_reader_lock, q);
    CU_ASSERT_EQUAL(mproc__write_fully(mproc__queue_write_handle(q), junk, sizeof junk), 0);
    /* Found broken under the reader lock: the report waits for its release. */
    CU_ASSERT_EQUAL(mproc_queue_get(q, &d, &n, 1), MPROC_EBROKEN);
    mproc_set_log_handler(NULL, NULL);
    CU_ASSERT(hook_calls > 0);
    CU_ASSERT_EQUAL(hook_saw_lock_held, 0);
    mproc_queue_free(q);
}

static void test_item_over_the_limit_is_etoobig(void)
{
    mproc_queue *q = mproc_queue_new(NULL, 0);
    CU_ASSERT_EQUAL(mproc_queue_set_max_message(q, 4), 0);
    CU_ASSERT_EQUAL(mproc_queue_put(q, "12345", 5, 0), MPROC_ETOOBIG);
    CU_ASSERT_EQUAL(mproc_queue_empty(q), 1);
    mproc_queue_free(q);
}

static int put_one(mproc_args *a) { return -mproc_queue_put(mproc_args_queue(a, 0), "hi", 2, -1); }
MPROC_TARGET(put_one);

static void test_1000_create_transfer_free_cycles_leak_nothing(void)
{
    int before = 0, maps = 0, failures = 0;
    for (int i = -1, cycles = tu_cycles(1000); i < cycles; i++) {
        mproc_queue *q;
        mproc_args *a;
        void *d = NULL;
        size_t n;
        mproc_process *p;
        if (i == 0) {
            before = tu_open_handle_count();
            maps = tu_mapping_count();
        }
        q = mproc_queue_new(NULL, 4);
        a = mproc_args_new();
        mproc_args_add_queue(a, q);
        p = mproc_process_new(NULL, put_one, a);
        if (mproc_process_start(p) != 0 || mproc_queue_get(q, &d, &n, 60) != 0 || n != 2)
            failures++;
        failures += tu_finish(p, 60) != 0;
        mproc_free(d);
        mproc_queue_free(q);
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

/* ---- queues of the thread context (in this process, no pipe) ------------- */

static mproc_ctx *thread_ctx(void) { return mproc_get_context(MPROC_THREAD); }

static void test_thread_queue_many_threads_lose_nothing_and_keep_order(void)
{
    /* Bounded, so that producers ahead of the consumers wait for room. */
    mproc_queue *q = mproc_queue_new(thread_ctx(), 64);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    check_many_producers_and_consumers(thread_ctx(), q);
}

static void test_thread_queue_one_producers_items_arrive_in_order(void) { check_in_order(thread_ctx(), 100000); }

static void test_thread_queue_get_times_out_with_eempty(void)
{
    mproc_queue *q = mproc_queue_new(thread_ctx(), 0);
    void *d = (void *)&d;
    size_t n = 9;
    double t0 = tu_now(), dt;
    CU_ASSERT_EQUAL(mproc_queue_get(q, &d, &n, 0.1), MPROC_EEMPTY);
    dt = tu_now() - t0;
    CU_ASSERT(dt >= 0.1 && dt <= 5);
    CU_ASSERT_PTR_NULL(d);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_EQUAL(mproc_queue_get_nowait(q, &d, &n), MPROC_EEMPTY);
    CU_ASSERT_EQUAL(mproc_queue_get(q, &d, &n, NAN), MPROC_EINVAL);
    CU_ASSERT_EQUAL(mproc_queue_get(q, NULL, &n, 0), MPROC_EINVAL);
    CU_ASSERT_EQUAL(mproc_queue_put(q, NULL, 1, 0), MPROC_EINVAL);
    /* An empty item is an item. */
    CU_ASSERT_EQUAL(mproc_queue_put(q, NULL, 0, 0), 0);
    CU_ASSERT_EQUAL(mproc_queue_get_nowait(q, &d, &n), 0);
    CU_ASSERT_PTR_NOT_NULL(d);
    CU_ASSERT_EQUAL(n, 0);
    mproc_free(d);
    mproc_queue_free(q);
}

/* Item i: item_len(i) bytes of value i. */
static size_t item_len(int i) { return (size_t)(i * 7 % 300); }

/* Gets the next item and counts it bad unless it is item i. */
static int got_item(mproc_queue *q, int i)
{
    size_t n = 0;
    void *d = NULL;
    int bad = mproc_queue_get_nowait(q, &d, &n) != 0 || n != item_len(i);
    for (size_t k = 0; !bad && k < n; k++)
        bad = ((unsigned char *)d)[k] != (unsigned char)i;
    mproc_free(d);
    return bad;
}

/* Items small enough to travel in their slot and larger ones, across many
 * of the queue's blocks of slots, come back whole and in order; a queue
 * freed with items left releases them (the sanitizer builds check that). */
static void test_thread_queue_small_and_large_items_keep_order_and_bytes(void)
{
    mproc_queue *q = mproc_queue_new(thread_ctx(), 0);
    unsigned char buf[300];
    int next_put = 0, next_get = 0, bad = 0;
    /* 150 in, 100 out, 40 times: 2,000 items deep at the end. */
    for (int round = 0; round < 40; round++) {
        for (int k = 0; k < 150; k++, next_put++) {
            memset(buf, (unsigned char)next_put, sizeof buf);
            bad += mproc_queue_put(q, buf, item_len(next_put), 0) != 0;
        }
        for (int k = 0; k < 100; k++, next_get++)
            bad += got_item(q, next_get);
    }
    while (next_get < next_put)
        bad += got_item(q, next_get++);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(mproc_queue_empty(q), 1);
    for (int i = 0; i < 500; i++)
        CU_ASSERT_EQUAL(mproc_queue_put(q, buf, i % 2 ? 250 : 10, 0), 0);
    mproc_queue_free(q); /* with 500 items in it */
}

/* Puts arg 1's string with no timeout, then sets event arg 2. */
static int put_then_signal(mproc_args *a)
{
    const char *s = mproc_args_str(a, 1);
    int rc = mproc_queue_put(mproc_args_queue(a, 0), s, strlen(s), -1);
    mproc_event_set(mproc_args_event(a, 2));
    return -rc;
}

static void test_thread_queue_bounded_put_waits_for_room(void)
{
    mproc_queue *q = mproc_queue_new(thread_ctx(), 2);
    mproc_event *done = mproc_event_new(NULL);
    mproc_args *a = mproc_args_new();
    mproc_process *p;
    size_t n = 0;
    void *d;
    double t0;
    CU_ASSERT_EQUAL(mproc_queue_put(q, "a", 1, 0), 0);
    CU_ASSERT_EQUAL(mproc_queue_put_nowait(q, "b", 1), 0);
    CU_ASSERT_EQUAL(mproc_queue_full(q), 1);
    CU_ASSERT_EQUAL(mproc_queue_qsize(q, &n), 0);
    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT_EQUAL(mproc_queue_put_nowait(q, "x", 1), MPROC_EFULL);
    t0 = tu_now();
    CU_ASSERT_EQUAL(mproc_queue_put(q, "x", 1, 0.1), MPROC_EFULL);
    CU_ASSERT(tu_now() - t0 >= 0.1);
    /* A put with no timeout waits until a get makes room. */
    mproc_args_add_queue(a, q);
    mproc_args_add_str(a, "c");
    mproc_args_add_event(a, done);
    p = start_in(thread_ctx(), put_then_signal, a);
    CU_ASSERT_EQUAL(mproc_event_wait(done, 0.2), MPROC_ETIMEDOUT);
    CU_ASSERT_EQUAL(mproc_queue_qsize(q, &n), 0);
    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT_EQUAL(mproc_queue_get(q, &d, &n, 10), 0);
    CU_ASSERT(n == 1 && memcmp(d, "a", 1) == 0);
    mproc_free(d);
    CU_ASSERT_EQUAL(tu_finish(p, 60), 0);
    CU_ASSERT_EQUAL(mproc_event_is_set(done), 1);
    for (const char *want = "bc"; *want; want++) {
        CU_ASSERT_EQUAL(mproc_queue_get_nowait(q, &d, &n), 0);
        CU_ASSERT(n == 1 && memcmp(d, want, 1) == 0);
        mproc_free(d);
    }
    CU_ASSERT_EQUAL(mproc_queue_empty(q), 1);
    CU_ASSERT_EQUAL(mproc_queue_full(q), 0);
    mproc_event_free(done);
    mproc_queue_free(q);
}

static void test_thread_queue_close_ends_puts_gets_and_waits(void)
{
    mproc_queue *q = mproc_queue_new(thread_ctx(), 1), *full = mproc_queue_new(thread_ctx(), 1);
    mproc_event *getting = mproc_event_new(NULL), *put = mproc_event_new(NULL);
    mproc_args *a = mproc_args_new(), *b = mproc_args_new();
    mproc_process *getter, *putter;
    void *d = NULL;
    size_t n;
    CU_ASSERT_EQUAL(mproc_queue_join_thread(q), MPROC_ESTATE); /* before close */
    /* A get waiting on an empty queue, a put waiting on a full one. */
    mproc_args_add_queue(a, q);
    mproc_args_add_event(a, getting);
    getter = start_in(thread_ctx(), get_after_signal, a);
    CU_ASSERT_EQUAL(mproc_queue_put(full, "1", 1, 0), 0);
    mproc_args_add_queue(b, full);
    mproc_args_add_str(b, "2");
    mproc_args_add_event(b, put);
    putter = start_in(thread_ctx(), put_then_signal, b);
    CU_ASSERT_EQUAL(mproc_event_wait(getting, 60), 0);
    mproc_queue_close(q);
    mproc_queue_close(full);
    /* Whether they were waiting yet or not, both end with ESTATE. */
    CU_ASSERT_EQUAL(tu_finish(getter, 60), -MPROC_ESTATE);
    CU_ASSERT_EQUAL(tu_finish(putter, 60), -MPROC_ESTATE);
    CU_ASSERT_EQUAL(mproc_queue_put(q, "x", 1, 0), MPROC_ESTATE);
    CU_ASSERT_EQUAL(mproc_queue_get(full, &d, &n, 0), MPROC_ESTATE);
    CU_ASSERT_PTR_NULL(d);
    CU_ASSERT_EQUAL(mproc_queue_join_thread(q), 0);
    mproc_queue_cancel_join_thread(q); /* nothing to cancel: no effect */
    mproc_event_free(getting);
    mproc_event_free(put);
    mproc_queue_free(q);
    mproc_queue_free(full);
}

static void test_thread_queue_joinable_join_waits_for_task_done(void)
{
    mproc_queue *q = mproc_joinable_queue_new(thread_ctx(), 0), *plain = mproc_queue_new(thread_ctx(), 0);
    mproc_args *a = mproc_args_new();
    mproc_process *p;
    CU_ASSERT_EQUAL(mproc_queue_task_done(q), MPROC_ESTATE);
    CU_ASSERT_EQUAL(mproc_queue_join(q), 0); /* nothing unfinished */
    for (int i = 0; i < 50; i++)
        CU_ASSERT_EQUAL(mproc_queue_put(q, &i, sizeof i, -1), 0);
    mproc_args_add_queue(a, q);
    p = start_in(thread_ctx(), work_and_mark_done, a);
    CU_ASSERT_EQUAL(mproc_queue_join(q), 0);
    CU_ASSERT_EQUAL(tu_finish(p, 60), 0);
    CU_ASSERT_EQUAL(mproc_queue_task_done(q), MPROC_ESTATE);
    CU_ASSERT_EQUAL(mproc_queue_task_done(plain), MPROC_EINVAL);
    CU_ASSERT_EQUAL(mproc_queue_join(plain), MPROC_EINVAL);
    mproc_queue_free(q);
    mproc_queue_free(plain);
}

static void test_thread_queue_join_timeout_times_out_until_task_done(void)
{
    mproc_queue *q = mproc_joinable_queue_new(thread_ctx(), 0), *plain = mproc_queue_new(thread_ctx(), 0);
    void *d = NULL;
    size_t n;
    double t0;
    int i = 1;
    CU_ASSERT_EQUAL(mproc_queue_join_timeout(q, 0), 0);
    CU_ASSERT_EQUAL(mproc_queue_put(q, &i, sizeof i, -1), 0);
    CU_ASSERT_EQUAL(mproc_queue_get(q, &d, &n, 10), 0);
    mproc_free(d);
    t0 = tu_now();
    CU_ASSERT_EQUAL(mproc_queue_join_timeout(q, 0.2), MPROC_ETIMEDOUT);
    CU_ASSERT(tu_now() - t0 >= 0.2);
    CU_ASSERT_EQUAL(mproc_queue_task_done(q), 0);
    CU_ASSERT_EQUAL(mproc_queue_join_timeout(q, 0), 0);
    CU_ASSERT_EQUAL(mproc_queue_join_timeout(plain, 0), MPROC_EINVAL);
    mproc_queue_free(q);
    mproc_queue_free(plain);
}

static void test_thread_simple_queue_puts_and_gets(void)
{
    mproc_queue *q = mproc_simple_queue_new(thread_ctx());
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    check_in_order_through(thread_ctx(), q, 300);
    CU_ASSERT_EQUAL(mproc_queue_task_done(q), MPROC_EINVAL);
    mproc_queue_free(q);
}

static void test_thread_queue_item_over_the_limit_is_etoobig(void)
{
    mproc_queue *q = mproc_joinable_queue_new(thread_ctx(), 0);
    void *d = NULL;
    size_t n;
    CU_ASSERT_EQUAL(mproc_queue_set_max_message(q, 4), 0);
    CU_ASSERT_EQUAL(mproc_queue_put(q, "12345", 5, 0), MPROC_ETOOBIG);
    CU_ASSERT_EQUAL(mproc_queue_empty(q), 1);
    CU_ASSERT_EQUAL(mproc_queue_put(q, "1234", 4, 0), 0);
    /* Lowered after the put: the get that reaches it drops it. */
    CU_ASSERT_EQUAL(mproc_queue_set_max_message(q, 3), 0);
    CU_ASSERT_EQUAL(mproc_queue_get(q, &d, &n, 0), MPROC_ETOOBIG);
    CU_ASSERT_PTR_NULL(d);
    CU_ASSERT_EQUAL(mproc_queue_empty(q), 1);
    CU_ASSERT_EQUAL(mproc_queue_join(q), 0); /* counted done */
    if (sizeof(size_t) > 4)
        CU_ASSERT_EQUAL(mproc_queue_set_max_message(q, (size_t)UINT32_MAX + 1), MPROC_EINVAL);
    mproc_queue_free(q);
}

/* Returns 0 when queue arg 0 is the very object whose address is arg 1. */
static int is_the_same_queue(mproc_args *a)
{
    mproc_queue *q = mproc_args_queue(a, 0);
    return q && (intptr_t)q == (intptr_t)mproc_args_i64(a, 1) && mproc_queue_put(q, "t", 1, 0) == 0 ? 0 : 1;
}
MPROC_TARGET(is_the_same_queue);

static int refusals_logged;

static void count_refusals(int level, const char *msg, void *ud)
{
    (void)level;
    (void)ud;
    refusals_logged += strstr(msg, "thread context") != NULL;
}

static void test_thread_queue_goes_to_threads_but_never_to_a_process(void)
{
    static const mproc_method methods[] = {MPROC_FORK, MPROC_SPAWN, MPROC_FORKSERVER};
    mproc_queue *q = mproc_queue_new(thread_ctx(), 0);
    mproc_args *a = mproc_args_new();
    int refused = 0, tried = 0;
    void *d;
    size_t n;
    /* A thread of the thread context gets the object itself. */
    mproc_args_add_queue(a, q);
    mproc_args_add_i64(a, (int64_t)(intptr_t)q);
    CU_ASSERT_EQUAL(tu_finish(start_in(thread_ctx(), is_the_same_queue, a), 60), 0);
    CU_ASSERT_EQUAL(mproc_queue_get_nowait(q, &d, &n), 0);
    mproc_free(d);
    /* A child process cannot have it: refused before anything starts. */
    refusals_logged = 0;
    mproc_set_log_handler(count_refusals, NULL);
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        mproc_ctx *ctx = mproc_get_context(methods[i]);
        mproc_process *p;
        if (!ctx)
            continue; /* not on this OS */
        tried++;
        a = mproc_args_new();
        mproc_args_add_queue(a, q);
        mproc_args_add_i64(a, (int64_t)(intptr_t)q);
        p = mproc_process_new(ctx, is_the_same_queue, a);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        refused += mproc_process_start(p) == MPROC_ENOTSUP;
        CU_ASSERT_EQUAL(mproc_process_is_alive(p), 0);
        mproc_process_free(p);
    }
    mproc_set_log_handler(NULL, NULL);
    CU_ASSERT_EQUAL(refused, tried);
    CU_ASSERT_EQUAL(refusals_logged, tried);
    CU_ASSERT_EQUAL(mproc_queue_empty(q), 1); /* nobody put anything */
    mproc_queue_free(q);
}

static void test_thread_queue_in_a_process_pools_initargs_is_refused(void)
{
    mproc_queue *q = mproc_queue_new(thread_ctx(), 0);
    mproc_args *initargs = mproc_args_new();
    mproc_pool_opts opts = {0};
    mproc_pool *pool;
    mproc_args_add_queue(initargs, q);
    opts.initargs = initargs;
    pool = mproc_pool_new(mproc_get_context(tu_process_method()), 1, &opts);
    CU_ASSERT_PTR_NULL(pool);
    CU_ASSERT_EQUAL(mproc_last_error(), MPROC_ENOTSUP);
    mproc_pool_free(pool);
    /* A pool of threads takes it. */
    pool = mproc_pool_new(thread_ctx(), 1, &opts);
    CU_ASSERT_PTR_NOT_NULL(pool);
    mproc_pool_free(pool);
    mproc_args_free(initargs);
    mproc_queue_free(q);
}

/* The queue a forked child finds in its copy of memory. */
static mproc_queue *inherited_queue;

static int use_inherited_queue(mproc_args *a)
{
    void *d = NULL;
    size_t n;
    int bad = 0;
    (void)a;
    bad += mproc_queue_put(inherited_queue, "x", 1, 0) != MPROC_ENOTSUP;
    bad += mproc_queue_get(inherited_queue, &d, &n, 0) != MPROC_ENOTSUP;
    bad += mproc_queue_qsize(inherited_queue, &n) != MPROC_ENOTSUP;
    mproc_queue_free(inherited_queue); /* forgotten, not touched */
    return bad;
}

static void test_thread_queue_copy_in_a_fork_child_refuses_every_call(void)
{
    mproc_ctx *fork_ctx = mproc_get_context(MPROC_FORK);
    void *d;
    size_t n = 0;
    TU_SKIP_IF(!fork_ctx, "no fork on this OS");
    inherited_queue = mproc_queue_new(thread_ctx(), 0);
    CU_ASSERT_EQUAL(mproc_queue_put(inherited_queue, "mine", 4, 0), 0);
    CU_ASSERT_EQUAL(tu_finish(start_in(fork_ctx, use_inherited_queue, NULL), 60), 0);
    /* Here it goes on as before. */
    CU_ASSERT_EQUAL(mproc_queue_qsize(inherited_queue, &n), 0);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(mproc_queue_get_nowait(inherited_queue, &d, &n), 0);
    CU_ASSERT(n == 4 && memcmp(d, "mine", 4) == 0);
    mproc_free(d);
    mproc_queue_free(inherited_queue);
}

static CU_TestInfo tests[] = {
    TU_TEST(test_one_producers_items_arrive_in_order),
    TU_TEST(test_many_producers_and_consumers_lose_nothing),
    TU_TEST(test_get_on_empty_queue_times_out_with_eempty),
    TU_TEST(test_put_on_full_bounded_queue_times_out_with_efull),
    TU_TEST(test_qsize_empty_full_track_the_items),
    TU_TEST(test_items_read_ahead_by_one_consumer_are_got_by_another),
    TU_TEST(test_small_and_large_items_interleaved_arrive_whole_in_order),
    TU_TEST(test_child_flushes_its_items_before_exiting),
    TU_TEST(test_cancel_join_thread_exits_without_waiting),
    TU_TEST(test_simple_queue_puts_and_gets),
    TU_TEST(test_joinable_queue_join_waits_for_task_done),
    TU_TEST(test_joinable_put_that_fails_counts_no_task),
    TU_TEST(test_join_timeout_is_zero_once_every_item_is_done),
    TU_TEST(test_join_timeout_times_out_when_the_consumer_returned_before_task_done),
    TU_TEST(test_join_timeout_times_out_when_the_consumer_was_killed_before_task_done),
    TU_TEST(test_join_timeout_refuses_a_queue_that_is_not_joinable),
    TU_TEST(test_garbage_in_the_pipe_breaks_the_queue),
    TU_TEST(test_log_hook_never_runs_under_the_reader_lock),
    TU_TEST(test_item_over_the_limit_is_etoobig),
    TU_TEST(test_1000_create_transfer_free_cycles_leak_nothing),
    CU_TEST_INFO_NULL,
};

/* Killing needs a process.  Robust mutexes report a dead holder at once;
 * without them (macOS, MPROC_FORCE_FALLBACKS) the holder's pid does. */
static CU_TestInfo kill_tests[] = {
    TU_TEST(test_consumer_killed_mid_message_breaks_the_queue),
    TU_TEST(test_consumer_killed_in_the_read_ahead_breaks_the_queue),
    TU_TEST(test_short_get_after_a_dead_reader_is_ebroken),
    TU_TEST(test_producer_killed_mid_write_breaks_the_queue),
    TU_TEST(test_no_torn_item_when_a_writer_dies_mid_body),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo fork_tests[] = {
    TU_TEST(test_queue_used_before_fork_works_in_the_child),
    CU_TEST_INFO_NULL,
};

/* They make their own thread context: once is enough, with the thread
 * method's run. */
static CU_TestInfo thread_context_tests[] = {
    TU_TEST(test_thread_queue_many_threads_lose_nothing_and_keep_order),
    TU_TEST(test_thread_queue_one_producers_items_arrive_in_order),
    TU_TEST(test_thread_queue_get_times_out_with_eempty),
    TU_TEST(test_thread_queue_small_and_large_items_keep_order_and_bytes),
    TU_TEST(test_thread_queue_bounded_put_waits_for_room),
    TU_TEST(test_thread_queue_close_ends_puts_gets_and_waits),
    TU_TEST(test_thread_queue_joinable_join_waits_for_task_done),
    TU_TEST(test_thread_queue_join_timeout_times_out_until_task_done),
    TU_TEST(test_thread_simple_queue_puts_and_gets),
    TU_TEST(test_thread_queue_item_over_the_limit_is_etoobig),
    TU_TEST(test_thread_queue_goes_to_threads_but_never_to_a_process),
    TU_TEST(test_thread_queue_in_a_process_pools_initargs_is_refused),
    TU_TEST(test_thread_queue_copy_in_a_fork_child_refuses_every_call),
    CU_TEST_INFO_NULL,
};

static void reg(void)
{
    tu_add_suite("queue", tests);
    if (tu_method() == MPROC_THREAD)
        tu_add_suite("queue_thread_context", thread_context_tests);
    if (tu_method() != MPROC_THREAD)
        tu_add_suite("queue_dead_peer", kill_tests);
    if (tu_method() == MPROC_FORK)
        tu_add_suite("queue_fork", fork_tests);
}

int main(int argc, char **argv) { return tu_main(argc, argv, reg); }
