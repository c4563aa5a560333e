/* Pipes: framed messages between processes, timeouts, EOF, and malformed
 * input rejected without over-reading or huge allocations. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "testutil.h"

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)((i * 31u + seed) >> 3);
}

/* Echoes every message back until the peer closes; returns how many.  An
 * optional second connection is the parent's end, which a forked child
 * holds a copy of (its own, as fork copies everything): closed first, or
 * the parent's close would not be an EOF here. */
static int echo(mproc_args *a)
{
    mproc_conn *c = mproc_args_conn(a, 0);
    int count = 0;
    if (mproc_args_count(a) > 1)
        mproc_conn_close(mproc_args_conn(a, 1));
    for (;;) {
        void *data;
        size_t len;
        int rc = mproc_conn_recv(c, &data, &len, 60);
        if (rc == MPROC_ECLOSED)
            return count;
        if (rc != 0)
            return 200 - rc;
        rc = mproc_conn_send(c, data, len);
        mproc_free(data);
        if (rc != 0)
            return 150;
        count++;
    }
}
MPROC_TARGET(echo);

static mproc_process *start_echo(mproc_conn *theirs, mproc_conn *mine)
{
    mproc_args *a = mproc_args_new();
    mproc_process *p;
    mproc_args_add_conn(a, theirs);
    if (tu_method() == MPROC_FORK)
        mproc_args_add_conn(a, mine);
    p = mproc_process_new(NULL, echo, a);
    CU_ASSERT_EQUAL_FATAL(mproc_process_start(p), 0);
    return p;
}

static void test_messages_of_every_size_round_trip(void)
{
    static const size_t sizes[] = {0, 1, 7, 4095, 4096, 4097, 65535, 65536, 65537, 1 << 20, 3000001};
    const size_t n = sizeof sizes / sizeof sizes[0];
    mproc_conn *mine, *theirs;
    mproc_process *p;
    unsigned char *buf = malloc(3000001);
    CU_ASSERT_EQUAL_FATAL(mproc_pipe(NULL, 1, &mine, &theirs), 0);
    p = start_echo(theirs, mine);
    if (tu_method() != MPROC_THREAD)
        mproc_conn_close(theirs); /* the child has its own; EOF reaches it when we close */
    for (size_t i = 0; i < n; i++) {
        void *back;
        size_t len;
        fill(buf, sizes[i], (unsigned)i);
        CU_ASSERT_EQUAL(mproc_conn_send(mine, buf, sizes[i]), 0);
        CU_ASSERT_EQUAL_FATAL(mproc_conn_recv(mine, &back, &len, 60), 0);
        CU_ASSERT_EQUAL(len, sizes[i]);
        CU_ASSERT(len == sizes[i] && (len == 0 || memcmp(back, buf, len) == 0));
        mproc_free(back);
    }
    mproc_conn_close(mine);
    {
        int code = tu_finish(p, 120);
        if (code != (int)n)
            printf("\n  echo child ended with %d\n", code);
        CU_ASSERT_EQUAL(code, (int)n);
    }
    if (tu_method() == MPROC_THREAD)
        mproc_conn_close(theirs);
    free(buf);
}

/* Sends one 256 MiB message (its bytes derived from the index) and returns. */
static int send_huge(mproc_args *a)
{
    size_t n = (size_t)256 << 20;
    unsigned char *p = malloc(n);
    int rc;
    if (!p)
        return 1;
    fill(p, n, 99);
    rc = mproc_conn_send(mproc_args_conn(a, 0), p, n);
    free(p);
    return -rc;
}
MPROC_TARGET(send_huge);

static void test_a_256_mib_message_arrives_whole(void)
{
    mproc_conn *r, *w;
    mproc_args *a = mproc_args_new();
    mproc_process *p;
    void *data = NULL;
    size_t len = 0, bad = 0;
    unsigned char *expect;
    CU_ASSERT_EQUAL_FATAL(mproc_pipe(NULL, 0, &r, &w), 0);
    mproc_args_add_conn(a, w);
    p = mproc_process_new(NULL, send_huge, a);
    CU_ASSERT_EQUAL_FATAL(mproc_process_start(p), 0);
    CU_ASSERT_EQUAL(mproc_conn_recv(r, &data, &len, 120), 0);
    CU_ASSERT_EQUAL(len, (size_t)256 << 20);
    expect = malloc((size_t)1 << 20);
    for (size_t off = 0; data && off < len; off += (size_t)1 << 20) {
        /* fill() is position-based: compare slice by slice. */
        const unsigned char *d = (const unsigned char *)data + off;
        for (size_t i = 0; i < ((size_t)1 << 20); i++)
            bad += d[i] != (unsigned char)(((off + i) * 31u + 99) >> 3);
    }
    CU_ASSERT_EQUAL(bad, 0);
    free(expect);
    mproc_free(data);
    CU_ASSERT_EQUAL(tu_finish(p, 120), 0);
    mproc_conn_close(r);
    mproc_conn_close(w);
}

static void test_recv_after_peer_closed_is_eclosed(void)
{
    mproc_conn *a, *b;
    void *d;
    size_t n;
    CU_ASSERT_EQUAL_FATAL(mproc_pipe(NULL, 1, &a, &b), 0);
    CU_ASSERT_EQUAL(mproc_conn_send(b, "x", 1), 0);
    mproc_conn_close(b);
    CU_ASSERT_EQUAL(mproc_conn_recv(a, &d, &n, 1), 0); /* what was sent still arrives */
    mproc_free(d);
    CU_ASSERT_EQUAL(mproc_conn_recv(a, &d, &n, 1), MPROC_ECLOSED);
    CU_ASSERT_EQUAL(mproc_conn_poll(a, 0), 1);
    mproc_conn_close(a);
}

static void test_recv_times_out_and_poll_reports_readiness(void)
{
    mproc_conn *r, *w;
    void *d;
    size_t n;
    double t0, dt;
    CU_ASSERT_EQUAL_FATAL(mproc_pipe(NULL, 0, &r, &w), 0);
    CU_ASSERT_EQUAL(mproc_conn_poll(r, 0), 0);
    t0 = tu_now();
    CU_ASSERT_EQUAL(mproc_conn_recv(r, &d, &n, 0.1), MPROC_ETIMEDOUT);
    dt = tu_now() - t0;
    CU_ASSERT(dt >= 0.1 && dt <= 0.6);
    CU_ASSERT_EQUAL(mproc_conn_send(w, "abc", 3), 0);
    CU_ASSERT_EQUAL(mproc_conn_poll(r, 1), 1);
    CU_ASSERT_EQUAL(mproc_conn_recv(r, &d, &n, 0), 0);
    CU_ASSERT(n == 3 && memcmp(d, "abc", 3) == 0);
    mproc_free(d);
    mproc_conn_close(r);
    mproc_conn_close(w);
}

static void test_simplex_ends_refuse_the_wrong_direction(void)
{
    mproc_conn *r, *w;
    void *d;
    size_t n;
    CU_ASSERT_EQUAL_FATAL(mproc_pipe(NULL, 0, &r, &w), 0);
    CU_ASSERT_EQUAL(mproc_conn_send(r, "x", 1), MPROC_ESTATE);
    CU_ASSERT_EQUAL(mproc_conn_recv(w, &d, &n, 0), MPROC_ESTATE);
    CU_ASSERT_EQUAL(mproc_conn_send(w, NULL, 1), MPROC_EINVAL);
    mproc_conn_close(r);
    mproc_conn_close(w);
}

static void test_send_over_the_limit_is_etoobig(void)
{
    mproc_conn *r, *w;
    CU_ASSERT_EQUAL_FATAL(mproc_pipe(NULL, 0, &r, &w), 0);
    CU_ASSERT_EQUAL(mproc_conn_set_max_message(w, 10), 0);
    CU_ASSERT_EQUAL(mproc_conn_send(w, "0123456789A", 11), MPROC_ETOOBIG);
    CU_ASSERT_EQUAL(mproc_conn_poll(r, 0), 0); /* nothing was sent */
    CU_ASSERT_EQUAL(mproc_conn_send(w, "0123456789", 10), 0);
    mproc_conn_close(r);
    mproc_conn_close(w);
}

/* Raw bytes straight into a connection, as a buggy or hostile peer would
 * write them (a duplex pair: each end's handle also writes). */
static void feed_raw(const void *bytes, size_t n, int close_after, int expect, size_t max)
{
    mproc_conn *r, *w;
    void *d = NULL;
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(mproc_pipe(NULL, 1, &r, &w), 0);
    CU_ASSERT_EQUAL(mproc__write_fully(mproc__conn_write_handle(w), bytes, n), 0);
    if (close_after) {
        mproc_conn_close(w);
        w = NULL;
    }
    if (max)
        mproc_conn_set_max_message(r, max);
    CU_ASSERT_EQUAL(mproc_conn_recv(r, &d, &len, 0.2), expect);
    CU_ASSERT_PTR_NULL(d);
    /* The stream has lost its framing: the connection stays broken. */
    if (expect != MPROC_ECLOSED)
        CU_ASSERT_EQUAL(mproc_conn_recv(r, &d, &len, 0), MPROC_EBROKEN);
    mproc_conn_close(r);
    mproc_conn_close(w);
}

static void test_truncated_header_is_ebroken(void)
{
    unsigned char hdr[MPROC__MSG_HDR];
    mproc__msg_header(hdr, 5);
    feed_raw(hdr, 5, 1, MPROC_EBROKEN, 0);
}

static void test_truncated_payload_is_ebroken(void)
{
    unsigned char msg[MPROC__MSG_HDR + 3];
    mproc__msg_header(msg, 100);
    memcpy(msg + MPROC__MSG_HDR, "abc", 3);
    feed_raw(msg, sizeof msg, 1, MPROC_EBROKEN, 0);
}

static void test_garbage_is_ebroken(void)
{
    static const unsigned char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    feed_raw(junk, sizeof junk - 1, 0, MPROC_EBROKEN, 0);
}

static void test_length_beyond_max_is_etoobig_without_allocating(void)
{
    unsigned char hdr[MPROC__MSG_HDR];
    mproc__msg_header(hdr, 0xfffffff0u); /* a valid header announcing ~4 GiB */
    feed_raw(hdr, sizeof hdr, 0, MPROC_ETOOBIG, 1 << 20);
}

static void test_timeout_mid_message_resumes_it(void)
{
    mproc_conn *r, *w;
    unsigned char msg[MPROC__MSG_HDR + 6];
    void *d = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL_FATAL(mproc_pipe(NULL, 1, &r, &w), 0);
    mproc__msg_header(msg, 6);
    memcpy(msg + MPROC__MSG_HDR, "abcdef", 6);
    CU_ASSERT_EQUAL(mproc__write_fully(mproc__conn_write_handle(w), msg, MPROC__MSG_HDR + 2), 0);
    CU_ASSERT_EQUAL(mproc_conn_recv(r, &d, &n, 0.1), MPROC_ETIMEDOUT);
    CU_ASSERT_EQUAL(mproc__write_fully(mproc__conn_write_handle(w), msg + MPROC__MSG_HDR + 2, 4), 0);
    CU_ASSERT_EQUAL(mproc_conn_recv(r, &d, &n, 1), 0);
    CU_ASSERT(n == 6 && d && memcmp(d, "abcdef", 6) == 0);
    mproc_free(d);
    mproc_conn_close(r);
    mproc_conn_close(w);
}

static void test_wait_reports_a_readable_connection(void)
{
    mproc_conn *r1, *w1, *r2, *w2;
    void *objs[2];
    int ready[2];
    CU_ASSERT_EQUAL_FATAL(mproc_pipe(NULL, 0, &r1, &w1), 0);
    CU_ASSERT_EQUAL_FATAL(mproc_pipe(NULL, 0, &r2, &w2), 0);
    objs[0] = r1;
    objs[1] = r2;
    CU_ASSERT_EQUAL(mproc_wait(objs, 2, 0.05, ready), 0);
    mproc_conn_send(w2, "x", 1);
    CU_ASSERT_EQUAL(mproc_wait(objs, 2, 5, ready), 1);
    CU_ASSERT(ready[0] == 0 && ready[1] == 1);
    mproc_conn_close(r1);
    mproc_conn_close(w1);
    mproc_conn_close(r2);
    mproc_conn_close(w2);
}

static int send_one(mproc_args *a) { return -mproc_conn_send(mproc_args_conn(a, 0), "hi", 2); }
MPROC_TARGET(send_one);

static void test_1000_create_transfer_free_cycles_leak_nothing(void)
{
    int before = 0, failures = 0;
    for (int i = -1, cycles = tu_cycles(1000); i < cycles; i++) {
        mproc_conn *r, *w;
        mproc_args *a;
        mproc_process *p;
        void *d = NULL;
        size_t n;
        if (i == 0)
            before = tu_open_handle_count();
        if (mproc_pipe(NULL, 0, &r, &w) != 0) {
            failures++;
            continue;
        }
        a = mproc_args_new();
        mproc_args_add_conn(a, w);
        p = mproc_process_new(NULL, send_one, a);
        if (mproc_process_start(p) != 0 || mproc_conn_recv(r, &d, &n, 60) != 0 || n != 2 || tu_finish(p, 120) != 0)
            failures++;
        else
            p = NULL;
        mproc_process_free(p);
        mproc_free(d);
        mproc_conn_close(r);
        mproc_conn_close(w);
    }
    CU_ASSERT_EQUAL(failures, 0);
    CU_ASSERT_EQUAL(tu_open_handle_count(), before);
}

static CU_TestInfo tests[] = {
    TU_TEST(test_messages_of_every_size_round_trip),
    TU_TEST(test_a_256_mib_message_arrives_whole),
    TU_TEST(test_recv_after_peer_closed_is_eclosed),
    TU_TEST(test_recv_times_out_and_poll_reports_readiness),
    TU_TEST(test_simplex_ends_refuse_the_wrong_direction),
    TU_TEST(test_send_over_the_limit_is_etoobig),
    TU_TEST(test_truncated_header_is_ebroken),
    TU_TEST(test_truncated_payload_is_ebroken),
    TU_TEST(test_garbage_is_ebroken),
    TU_TEST(test_length_beyond_max_is_etoobig_without_allocating),
    TU_TEST(test_timeout_mid_message_resumes_it),
    TU_TEST(test_wait_reports_a_readable_connection),
    TU_TEST(test_1000_create_transfer_free_cycles_leak_nothing),
    CU_TEST_INFO_NULL,
};

static void reg(void) { tu_add_suite("conn", tests); }

int main(int argc, char **argv) { return tu_main(argc, argv, reg); }
