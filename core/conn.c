/*
 * Connections (multiprocessing.Pipe): framed messages over pipes, a duplex
 * connection two of them, one each way (a pipe wakes its reader sooner than
 * a socketpair does: the round trip users time).  A receive that times out
 * in the middle of a message keeps what it has read, so the next receive
 * resumes the same message: no message is ever torn by a timeout.  A
 * malformed header breaks the connection (the stream has lost its
 * framing); nothing is over-read and nothing larger than the configured
 * maximum is allocated.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define SMALL_SEND 16384 /* header and payload in one write below this */

struct mproc_conn {
    mproc__obj obj;
    mproc__link link; /* in live: the connections of this process */
    mproc__handle rd, wr; /* simplex: one is NO_HANDLE */
    int flags;            /* the pipes' (MPROC__PIPE_BLOCKING) */
    mproc__mutex *send_mu, *recv_mu;
    size_t max;
    int broken;
    /* a message being received */
    unsigned char hdr[MPROC__MSG_HDR];
    size_t hdr_got;
    unsigned char *body;
    size_t body_len, body_got;
};
MPROC__TAG_FIRST(struct mproc_conn);

static mproc__link *live; /* global lock */

/* In a forked child: a thread that was sending or receiving at the fork
 * does not exist here, yet its lock would stay held for ever.  The old
 * mutexes are the parent's (a copy, possibly locked): left, not freed. */
static void reset_locks_after_fork(void)
{
    for (mproc__link *l = live; l; l = l->next) {
        mproc_conn *c = l->obj;
        c->send_mu = mproc__plat_mutex_new();
        c->recv_mu = mproc__plat_mutex_new();
        /* No memory: send and receive then fail with MPROC_ENOMEM. */
    }
}

static void register_live(mproc_conn *c)
{
    mproc__on_fork_child(reset_locks_after_fork);
    mproc__link_add(&live, &c->link, c);
}

static mproc_conn *conn_make(mproc__handle rd, mproc__handle wr, int flags)
{
    mproc_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (!(c->send_mu = mproc__plat_mutex_new()) || !(c->recv_mu = mproc__plat_mutex_new())) {
        mproc__plat_mutex_free(c->send_mu);
        free(c);
        return NULL;
    }
    mproc__obj_init(&c->obj, MPROC__T_CONN);
    c->rd = rd;
    c->wr = wr;
    c->flags = flags;
    c->max = MPROC__MSG_DEFAULT_MAX;
    register_live(c);
    return c;
}

int mproc__pipe(int duplex, int flags, mproc_conn **a, mproc_conn **b)
{
    /* h[0] -> h[1] carries b's messages to a; duplex adds h[2] -> h[3]. */
    mproc__handle h[4] = {MPROC__NO_HANDLE, MPROC__NO_HANDLE, MPROC__NO_HANDLE, MPROC__NO_HANDLE};
    int rc;

    if (!a || !b)
        return mproc__error(MPROC_EINVAL);
    *a = *b = NULL;
    if ((rc = mproc__plat_pipe(flags, h)) != 0 || (duplex && (rc = mproc__plat_pipe(flags, h + 2)) != 0)) {
        mproc__close_handles(h, 4);
        return rc;
    }
    /* CPython's order: Pipe(duplex=False) returns (reader, writer). */
    *a = conn_make(h[0], h[3], flags);
    *b = *a ? conn_make(h[2], h[1], flags) : NULL;
    if (!*b) {
        if (*a) {
            (*a)->rd = (*a)->wr = MPROC__NO_HANDLE; /* closed below, once */
            mproc_conn_close(*a);
        }
        mproc__close_handles(h, 4);
        *a = NULL;
        return mproc__error(MPROC_ENOMEM);
    }
    return 0;
}

int mproc_pipe(mproc_ctx *ctx, int duplex, mproc_conn **a, mproc_conn **b)
{
    /* ctx is only checked: a pipe serves processes and threads alike. */
    if (!mproc__ctx_ok(ctx))
        return mproc__error(MPROC_EINVAL);
    return mproc__pipe(duplex, MPROC__PIPE_BLOCKING, a, b);
}

int mproc_conn_set_max_message(mproc_conn *c, size_t max)
{
    if (!mproc__is(c, MPROC__T_CONN) || max > UINT32_MAX)
        return mproc__error(MPROC_EINVAL);
    c->max = max;
    return 0;
}

/* Writes all of buf, however long the pipe takes to drain. */
int mproc__write_fully(mproc__handle h, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    while (len > 0) {
        long n = mproc__plat_write_timed(h, p, len, -1);
        if (n < 0)
            return (int)n;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int mproc_conn_send(mproc_conn *c, const void *data, size_t len)
{
    unsigned char small[MPROC__MSG_HDR + SMALL_SEND];
    int rc;

    if (!mproc__is(c, MPROC__T_CONN) || (!data && len > 0))
        return mproc__error(MPROC_EINVAL);
    if (c->wr == MPROC__NO_HANDLE)
        return mproc__errorf(MPROC_ESTATE, "connection is read-only");
    if (len > c->max)
        return mproc__errorf(MPROC_ETOOBIG, "message of %zu bytes exceeds the limit of %zu", len, c->max);
    if (!c->send_mu)
        return mproc__error(MPROC_ENOMEM); /* a fork child that could not re-create it */
    mproc__msg_header(small, len);
    mproc__plat_mutex_lock(c->send_mu);
    if (len <= SMALL_SEND) {
        if (len)
            memcpy(small + MPROC__MSG_HDR, data, len);
        rc = mproc__write_fully(c->wr, small, MPROC__MSG_HDR + len);
    } else {
        rc = mproc__write_fully(c->wr, small, MPROC__MSG_HDR);
        if (rc == 0)
            rc = mproc__write_fully(c->wr, data, len);
    }
    mproc__plat_mutex_unlock(c->send_mu);
    return rc ? mproc__raise(rc) : 0;
}

/* Reads into [p + *got, p + want) until complete or the deadline passes.
 * A blocking pipe waits for its bytes inside the read when there is no
 * deadline; with one, it is asked whether it is readable first. */
static int read_part(mproc_conn *c, unsigned char *p, size_t want, size_t *got, double deadline, int forever)
{
    int blocking = c->flags & MPROC__PIPE_BLOCKING;
    while (*got < want) {
        double left = forever ? -1 : deadline - mproc__plat_now();
        long n;
        if (!forever && left < 0)
            left = 0;
        if (blocking && !forever) {
            int ready = mproc__plat_readable(c->rd, left);
            if (ready <= 0)
                return ready < 0 ? ready : MPROC_ETIMEDOUT;
            left = 0;
        }
        n = mproc__plat_read_timed(c->rd, p + *got, want - *got, left);
        if (n < 0)
            return (int)n;
        if (n == 0) {
            if (!blocking || left > 0 || mproc__plat_now() >= deadline)
                return MPROC_ETIMEDOUT;
            continue; /* Windows: another process took the bytes; wait again */
        }
        *got += (size_t)n;
    }
    return 0;
}

static int receive(mproc_conn *c, void **data, size_t *len, double timeout)
{
    double deadline = mproc__plat_now() + timeout;
    int forever = timeout < 0, rc;

    if (c->broken)
        return MPROC_EBROKEN;
    rc = read_part(c, c->hdr, MPROC__MSG_HDR, &c->hdr_got, deadline, forever);
    if (rc == MPROC_ECLOSED && c->hdr_got > 0)
        rc = MPROC_EBROKEN; /* EOF inside a header */
    if (rc != 0)
        goto out;
    if (!c->body) {
        if ((rc = mproc__msg_parse(c->hdr, c->max, &c->body_len)) != 0) {
            c->broken = 1; /* no way to find the next message boundary */
            goto out;
        }
        if (!(c->body = malloc(c->body_len ? c->body_len : 1)))
            return MPROC_ENOMEM;
        c->body_got = 0;
    }
    rc = read_part(c, c->body, c->body_len, &c->body_got, deadline, forever);
    if (rc == MPROC_ECLOSED)
        rc = MPROC_EBROKEN; /* EOF inside a message */
    if (rc != 0)
        goto out;
    *data = c->body;
    *len = c->body_len;
    c->body = NULL;
    c->hdr_got = 0;
    return 0;
out:
    if (rc == MPROC_EBROKEN)
        c->broken = 1;
    return rc;
}

int mproc_conn_recv(mproc_conn *c, void **data, size_t *len, double timeout)
{
    int rc;
    if (mproc__timeout(&timeout) != 0)
        return mproc_last_error();
    if (!mproc__is(c, MPROC__T_CONN) || !data || !len)
        return mproc__error(MPROC_EINVAL);
    *data = NULL;
    *len = 0;
    if (c->rd == MPROC__NO_HANDLE)
        return mproc__errorf(MPROC_ESTATE, "connection is write-only");
    if (!c->recv_mu)
        return mproc__error(MPROC_ENOMEM); /* a fork child that could not re-create it */
    mproc__plat_mutex_lock(c->recv_mu);
    rc = receive(c, data, len, timeout);
    mproc__plat_mutex_unlock(c->recv_mu);
    return rc ? mproc__raise(rc) : 0;
}

int mproc_conn_read_raw(mproc_conn *c, void *buf, size_t cap, size_t *got, double timeout)
{
    size_t n = 0;
    int rc;
    if (mproc__timeout(&timeout) != 0)
        return mproc_last_error();
    if (!mproc__is(c, MPROC__T_CONN) || !buf || cap == 0 || !got)
        return mproc__error(MPROC_EINVAL);
    *got = 0;
    if (c->rd == MPROC__NO_HANDLE)
        return mproc__errorf(MPROC_ESTATE, "connection is write-only");
    if (!c->recv_mu)
        return mproc__error(MPROC_ENOMEM);
    mproc__plat_mutex_lock(c->recv_mu);
    /* Bytes, not messages: a message half received would be torn. */
    if (c->hdr_got > 0)
        rc = mproc__errorf(MPROC_ESTATE, "a message is being received on this connection");
    else
        rc = read_part(c, buf, 1, &n, mproc__plat_now() + timeout, timeout < 0);
    if (rc == 0) {
        /* What else is there now, without waiting. */
        long more = cap > 1 && mproc__plat_readable(c->rd, 0) == 1
                        ? mproc__plat_read_timed(c->rd, (unsigned char *)buf + 1, cap - 1, 0)
                        : 0;
        n += more > 0 ? (size_t)more : 0;
        *got = n;
    }
    mproc__plat_mutex_unlock(c->recv_mu);
    return rc ? mproc__raise(rc) : 0;
}

int mproc_conn_poll(mproc_conn *c, double timeout)
{
    int rc;
    if (mproc__timeout(&timeout) != 0)
        return mproc_last_error();
    if (!mproc__is(c, MPROC__T_CONN))
        return mproc__error(MPROC_EINVAL);
    if (c->rd == MPROC__NO_HANDLE)
        return mproc__errorf(MPROC_ESTATE, "connection is write-only");
    if (c->hdr_got > 0)
        return 1; /* a message is already on its way in */
    rc = mproc__plat_readable(c->rd, timeout);
    return rc < 0 ? mproc__raise(rc) : rc;
}

void mproc_conn_close(mproc_conn *c)
{
    if (!mproc__is(c, MPROC__T_CONN))
        return;
    mproc__link_remove(&live, &c->link);
    if (c->rd != MPROC__NO_HANDLE)
        mproc__plat_close(c->rd);
    if (c->wr != MPROC__NO_HANDLE)
        mproc__plat_close(c->wr);
    mproc__plat_mutex_free(c->send_mu);
    mproc__plat_mutex_free(c->recv_mu);
    free(c->body);
    mproc__obj_clear(&c->obj);
    free(c);
}

mproc__handle mproc__conn_sentinel(mproc_conn *c) { return c->rd; }

mproc__handle mproc__conn_write_handle(mproc_conn *c) { return c->wr; }

/* ---- passing to children ------------------------------------------------ */

static int conn_export(void *obj, mproc__buf *b, mproc__handle *hs, size_t *n, size_t cap)
{
    mproc_conn *c = obj;
    /* bit 0: a read end follows, bit 1: a write end follows, bit 2: blocking pipes */
    uint8_t ends = (uint8_t)((c->rd != MPROC__NO_HANDLE) | (c->wr != MPROC__NO_HANDLE) << 1 |
                             (c->flags & MPROC__PIPE_BLOCKING ? 4 : 0));
    if (*n + 2 > cap)
        return MPROC_ETOOBIG;
    if (c->rd != MPROC__NO_HANDLE)
        hs[(*n)++] = c->rd;
    if (c->wr != MPROC__NO_HANDLE)
        hs[(*n)++] = c->wr;
    mproc__buf_u8(b, ends);
    mproc__buf_u64(b, (uint64_t)c->max);
    return 0;
}

static void *conn_import(mproc__reader *r, const mproc__handle *hs, size_t n)
{
    uint8_t ends = mproc__rd_u8(r);
    uint64_t max = mproc__rd_u64(r);
    size_t want = (size_t)(ends & 1) + (size_t)(ends >> 1 & 1);
    mproc_conn *c = NULL;
    if (!r->bad && (ends & 3) != 0 && ends <= 7 && n == want && max <= UINT32_MAX)
        c = conn_make(ends & 1 ? hs[0] : MPROC__NO_HANDLE, ends & 2 ? hs[n - 1] : MPROC__NO_HANDLE,
                      ends & 4 ? MPROC__PIPE_BLOCKING : 0);
    if (!c) {
        mproc__close_handles(hs, n);
        return mproc__null(r->bad ? MPROC_EBROKEN : MPROC_ENOMEM);
    }
    c->max = (size_t)max;
    return c;
}

static void conn_release(void *obj) { mproc_conn_close(obj); }

const mproc__objtype mproc__conn_type = {conn_export, conn_import, conn_release};
