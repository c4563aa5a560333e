/*
 * A pool worker's loop, the same over every transport: read a message of
 * chunks, run each item, send the results.  Results are batched (one
 * message per message read, or sooner once they fill
 * MPROC__POOL_CHUNK_BYTES or the dispatcher asks for them because a slow
 * item has run) so a chunk of trivial tasks costs one write and no clock
 * read, while the status slot tells the dispatcher at every moment which
 * item runs: that is the one to blame if the worker dies, and the one
 * task_timeout measures.
 */
#include <stdlib.h>
#include <string.h>

#include "pool_internal.h"

/* A task writes its result straight into the DONE message being built.
 * While the open group's results are small and the new one matches them
 * so far, it is written where it joins the group; one that turns out
 * otherwise (longer, shorter, failed) gets room for a header of its own
 * in front of it, moving at most JOIN_MAX bytes it wrote already.  So a
 * stream of equal results costs no header and no copy, and a large
 * result is never copied into the message.  The message's buffer is
 * dropped after it has grown past KEEP_BYTES (a large result). */
#define JOIN_MAX 64
#define KEEP_BYTES (MPROC__POOL_CHUNK_BYTES + ((size_t)64 << 10))
/* Unwatched (see mproc__pool_slot): a batch older than this goes out after
 * the item that made it so. */
#define BATCH_AGE 0.005

struct mproc_out {
    mproc__obj obj;
    mproc__buf *msg; /* the DONE message; the result is what follows start */
    size_t start;
    size_t fast_end; /* where a write may reach with no check of the rest: within
                        the buffer, max and (joining) join */
    size_t max;
    size_t join;     /* the open group's length while the result may join it */
    int roomed;      /* a group header's room is in front of start */
    int error;       /* MPROC_ETOOBIG or MPROC_ENOMEM: the item fails so */
};
MPROC__TAG_FIRST(struct mproc_out);

/* Small copies of a constant size compile to a move; a result is most
 * often 8 or 4 bytes long. */
static void copy_small(unsigned char *dst, const void *src, size_t len)
{
    if (len == 8)
        memcpy(dst, src, 8);
    else if (len == 4)
        memcpy(dst, src, 4);
    else if (len)
        memmove(dst, src, len);
}

static void out_limit(mproc_out *out)
{
    size_t allowed = out->roomed ? out->max : out->join, in_buffer = out->msg->cap - out->start;
    out->fast_end = out->start + (allowed < in_buffer ? allowed : in_buffer);
}

/* Makes room for a group header in front of the result: 0 or MPROC_ENOMEM. */
static int out_room(mproc_out *out)
{
    mproc__buf *m = out->msg;
    size_t written = m->len - out->start;
    if (MPROC__POOL_GROUP_HEAD > m->cap - m->len && mproc__buf_reserve(m, MPROC__POOL_GROUP_HEAD) != 0)
        return MPROC_ENOMEM;
    if (written)
        memmove(m->data + out->start + MPROC__POOL_GROUP_HEAD, m->data + out->start, written);
    m->len += MPROC__POOL_GROUP_HEAD;
    out->start += MPROC__POOL_GROUP_HEAD;
    out->roomed = 1;
    out_limit(out);
    return 0;
}

/* A write past fast_end: over max, no longer joining, or a larger buffer. */
static int out_grow(mproc_out *out, size_t len)
{
    mproc__buf *m = out->msg;
    if (len > out->max - (m->len - out->start)) {
        out->error = MPROC_ETOOBIG;
        return mproc__errorf(MPROC_ETOOBIG, "result over the pool's max_message of %zu bytes", out->max);
    }
    if ((!out->roomed && len > out->join - (m->len - out->start) && out_room(out) != 0) ||
        (len > m->cap - m->len && mproc__buf_reserve(m, len) != 0)) {
        if (!out->error)
            out->error = MPROC_ENOMEM;
        return mproc__error(MPROC_ENOMEM);
    }
    out_limit(out);
    return 0;
}

int mproc_out_write(mproc_out *out, const void *data, size_t len)
{
    mproc__buf *m;
    int rc;
    if (!mproc__is(out, MPROC__T_OUT) || !(m = out->msg) || (!data && len > 0))
        return mproc__error(MPROC_EINVAL);
    if (len > out->fast_end - m->len && (rc = out_grow(out, len)) != 0)
        return rc;
    copy_small(m->data + m->len, data, len);
    m->len += len;
    return 0;
}

int mproc__pool_task_ref(mproc_task_fn fn, int by_name, const char **name)
{
    *name = mproc__task_name(fn);
    if (!*name && by_name)
        return mproc__errorf(MPROC_ENOTREG, "task not registered with MPROC_TASK (spawn and forkserver pools need it)");
    if (!*name)
        *name = "";
    return 0;
}

static void put_u32_at(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64_at(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Results not yet sent: a DONE message being built, its last group open
 * (results with the same status, code and length join it). */
typedef struct {
    mproc__buf msg;
    uint32_t count;
    size_t group_at; /* where the open group's header is; 0: none */
    uint32_t group_n, group_len;
    int group_status, group_code;
    double since;    /* unwatched: when the oldest unsent result was added */
} batch;

static void batch_reset(batch *b)
{
    static const unsigned char head[MPROC__POOL_DONE_HEAD] = {MPROC__POOL_DONE};
    if (b->msg.cap > KEEP_BYTES)
        mproc__buf_free(&b->msg);
    b->msg.len = 0;
    b->msg.failed = 0;
    mproc__buf_bytes(&b->msg, head, sizeof head);
    b->count = 0;
    b->group_at = 0;
}

static int batch_flush(mproc__pool_endpoint *ep, batch *b)
{
    int rc;
    if (b->count == 0)
        return 0;
    if (b->msg.failed)
        return MPROC_ENOMEM;
    put_u32_at(b->msg.data + 2 + 8, b->count);
    put_u32_at(b->msg.data + b->group_at, b->group_n);
    rc = ep->send(ep, b->msg.data, b->msg.len);
    batch_reset(b);
    return rc;
}

/* What the worker keeps from item to item. */
typedef struct {
    mproc__pool_endpoint *ep;
    batch b;
    mproc_out out;
    mproc_task_fn fn; /* the task of the last TASKS record */
    int ran;
    int returning;    /* the rest of this message goes back unrun */
} worker_state;

/* The item whose result began at out->start ended with status: its result
 * joins the open group or heads a group of its own (failed: without what
 * it wrote).  0, or MPROC_ENOMEM (no room for its header). */
static int batch_add(batch *b, mproc_out *out, uint64_t id, int status, int code, int watched)
{
    unsigned char *head;
    size_t len;
    if (status != 0)
        b->msg.len = out->start;
    len = b->msg.len - out->start;
    if (!out->roomed && status == 0 && len == out->join && b->group_n < UINT32_MAX) {
        b->count++; /* a group is open: not the first result */
        b->group_n++;
        return 0;
    }
    if (b->count++ == 0) {
        put_u64_at(b->msg.data + 2, id);
        b->msg.data[1] = watched ? MPROC__POOL_WATCHED : 0;
        if (!watched)
            b->since = mproc__plat_now();
    }
    if (!out->roomed && out_room(out) != 0)
        return MPROC_ENOMEM;
    if (b->group_at)
        put_u32_at(b->msg.data + b->group_at, b->group_n);
    b->group_at = out->start - MPROC__POOL_GROUP_HEAD;
    head = b->msg.data + b->group_at;
    put_u32_at(head + 4, (uint32_t)status);
    put_u32_at(head + 8, (uint32_t)code);
    put_u32_at(head + 12, (uint32_t)len);
    b->group_n = 1;
    b->group_status = status;
    b->group_code = code;
    b->group_len = (uint32_t)len;
    return 0;
}

/* Runs one item; its result goes into the batch.  0, or MPROC_ENOMEM
 * (no room for its result's header: the worker cannot go on). */
static int run_item(worker_state *ws, uint64_t id, const void *in, size_t len, int timed, int watched)
{
    mproc__pool_endpoint *ep = ws->ep;
    mproc_out *out = &ws->out;
    batch *b = &ws->b;
    int rc, status = 0;
    if (b->msg.len < MPROC__POOL_DONE_HEAD)
        return MPROC_ENOMEM; /* batch_reset found no memory */
    out->msg = &b->msg;
    out->start = b->msg.len;
    out->roomed = 0;
    out->join = b->group_len;
    out->error = 0;
    out_limit(out);
    /* Nothing to join: room for a header at once. */
    if ((!b->group_at || b->group_status != 0 || b->group_len > JOIN_MAX) && out_room(out) != 0)
        return MPROC_ENOMEM;
    /* The item's start before its id: the dispatcher reads them the other way. */
    if (timed)
        atomic_store_explicit(&ep->slot->since_us, (long long)(mproc__plat_now() * 1e6), memory_order_relaxed);
    atomic_store_explicit(&ep->slot->item, id, memory_order_release);
    rc = ws->fn ? ws->fn(in, len, out) : 0;
    atomic_store_explicit(&ep->slot->item, 0, memory_order_release);
    if (!ws->fn)
        status = MPROC_ENOTREG;
    else if (out->error)
        status = out->error;
    else if (rc != 0)
        status = MPROC_ETASK;
    rc = batch_add(b, out, id, status, status == MPROC_ETASK ? rc : 0, watched);
    out->msg = NULL; /* a write outside a task is refused */
    return rc;
}

/* The function a TASKS record names: by name when registered here, else
 * by the address the dispatcher sent (fork and thread only send one the
 * dispatcher allowed). */
static mproc_task_fn task_of(mproc__reader *r)
{
    char *name = mproc__rd_str(r, MPROC__NAME_MAX);
    const void *addr = mproc__rd_bytes(r, sizeof(mproc_task_fn));
    mproc_task_fn fn = NULL;
    if (name && *name)
        fn = mproc__task_find(name);
    else if (addr)
        memcpy(&fn, addr, sizeof fn);
    free(name);
    return fn;
}

/* Whether the results held go out now: they fill a chunk, or the
 * dispatcher asked (or, unwatched, they have waited BATCH_AGE). */
static int time_to_flush(worker_state *ws, int watched)
{
    atomic_int *flush = &ws->ep->slot->flush;
    if (ws->b.msg.len >= MPROC__POOL_CHUNK_BYTES)
        return 1;
    if (watched)
        return atomic_load_explicit(flush, memory_order_relaxed) && atomic_exchange(flush, 0);
    return ws->b.count > 0 && mproc__plat_now() - ws->b.since > BATCH_AGE;
}

/* Adds n items from id on, handed back unrun (MPROC__POOL_RETURNED):
 * 0, or MPROC_ENOMEM. */
static int batch_returned(batch *b, uint64_t id, uint32_t n)
{
    unsigned char head[MPROC__POOL_GROUP_HEAD];
    if (n == 0)
        return 0;
    if (b->msg.len < MPROC__POOL_DONE_HEAD)
        return MPROC_ENOMEM;
    if (b->count == 0) {
        put_u64_at(b->msg.data + 2, id);
        b->msg.data[1] = MPROC__POOL_WATCHED; /* only a watched worker is asked */
    }
    b->count += n;
    if (b->group_at && b->group_status == MPROC__POOL_RETURNED) {
        b->group_n += n;
        return 0;
    }
    if (mproc__buf_reserve(&b->msg, sizeof head) != 0)
        return MPROC_ENOMEM;
    if (b->group_at)
        put_u32_at(b->msg.data + b->group_at, b->group_n);
    b->group_at = b->msg.len;
    put_u32_at(head, 0);
    put_u32_at(head + 4, MPROC__POOL_RETURNED);
    put_u32_at(head + 8, 0);
    put_u32_at(head + 12, 0);
    mproc__buf_bytes(&b->msg, head, sizeof head);
    b->group_n = n;
    b->group_status = MPROC__POOL_RETURNED;
    b->group_code = 0;
    b->group_len = 0;
    return 0;
}

/* Runs the items of one chunk record (its type byte read), or hands them
 * back once the dispatcher asked (the rest of the message with them).
 * Returns 1 once maxtasks is reached, -1 when the channel is gone or the
 * record is malformed. */
static int run_chunk(worker_state *ws, mproc__reader *r, int type)
{
    mproc__pool_endpoint *ep = ws->ep;
    atomic_int *give_back = &ep->slot->give_back;
    int timed = atomic_load(&ep->slot->timed), watched = atomic_load(&ep->slot->watched);
    const unsigned char *in = NULL;
    uint64_t id;
    uint32_t count, size;
    if (type == MPROC__POOL_TASKS)
        ws->fn = task_of(r);
    id = mproc__rd_u64(r);
    count = mproc__rd_u32(r);
    size = mproc__rd_u32(r);
    /* Fixed-size inputs: one block. */
    if (size != MPROC__POOL_VARIABLE && !r->bad) {
        if (size > 0 && count > (r->len - r->pos) / size)
            r->bad = 1;
        else
            in = mproc__rd_bytes(r, (size_t)count * size);
    }
    for (uint32_t i = 0; i < count && !r->bad; i++) {
        uint32_t len = size;
        const void *item = in ? in + (size_t)i * size : NULL;
        if (size == MPROC__POOL_VARIABLE) {
            len = mproc__rd_u32(r);
            if (!(item = mproc__rd_bytes(r, len)))
                break;
        }
        if (watched && !ws->returning && atomic_load_explicit(give_back, memory_order_relaxed))
            ws->returning = atomic_exchange(give_back, 0) != 0;
        if (ws->returning) {
            /* The rest of the record: past its inputs, then back. */
            for (uint32_t j = i + 1; size == MPROC__POOL_VARIABLE && j < count && !r->bad; j++)
                (void)mproc__rd_bytes(r, mproc__rd_u32(r));
            if (r->bad || batch_returned(&ws->b, id + i, count - i) != 0)
                return -1;
            return 0;
        }
        if (run_item(ws, id + i, item, len, timed, watched) != 0)
            return -1;
        ++ws->ran;
        /* A slow item's result goes out now (imap, progress, apply_async
         * hear of it); a stream of fast ones waits for the message's end. */
        if (time_to_flush(ws, watched) && batch_flush(ep, &ws->b) != 0)
            return -1;
        if (ep->maxtasks > 0 && ws->ran >= ep->maxtasks)
            return 1;
    }
    return r->bad ? -1 : 0;
}

int mproc__pool_worker_loop(mproc__pool_endpoint *ep, mproc_target_fn initializer, mproc_args *initargs)
{
    static const unsigned char ready = MPROC__POOL_READY;
    worker_state ws;
    int code = 0;

    memset(&ws, 0, sizeof ws);
    ws.ep = ep;
    mproc__obj_init(&ws.out.obj, MPROC__T_OUT);
    ws.out.max = ep->max_message;
    ws.out.msg = NULL;
    if (initializer && (code = initializer(initargs)) != 0)
        return code;
    if (ep->send(ep, &ready, 1) != 0)
        return 0;
    batch_reset(&ws.b);
    for (;;) {
        void *msg = NULL;
        size_t len = 0;
        mproc__reader r;
        int rc;
        if (ep->recv(ep, &msg, &len) != 0)
            break;
        /* A message holds one or more chunk records, back to back. */
        r = (mproc__reader){msg, len, 0, 0};
        rc = 0;
        ws.fn = NULL;
        ws.returning = 0;
        while (rc == 0 && r.pos < r.len) {
            int type = mproc__rd_u8(&r);
            if (type != MPROC__POOL_TASKS && type != MPROC__POOL_MORE) {
                rc = 2; /* STOP, or a message this worker does not know */
                break;
            }
            rc = run_chunk(&ws, &r, type);
        }
        ep->release(ep, msg);
        if (rc == 2) {
            (void)batch_flush(ep, &ws.b);
            break;
        }
        if (rc != 0 || batch_flush(ep, &ws.b) != 0) {
            code = rc < 0 ? 1 : 0;
            (void)batch_flush(ep, &ws.b);
            break;
        }
    }
    mproc__buf_free(&ws.b.msg);
    mproc__obj_clear(&ws.out.obj);
    return code;
}
