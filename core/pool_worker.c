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

/* What a task writes goes after room for its own DONE message's header
 * (one result), so a large result is sent as it is, not copied into the
 * batch: a 16 MiB result costs one copy less.  One buffer serves every
 * item of a worker; it is dropped after a result over KEEP_BYTES. */
#define RESULT_HEAD (MPROC__POOL_DONE_HEAD + MPROC__POOL_GROUP_HEAD)
#define DIRECT_MIN ((size_t)64 << 10)
#define KEEP_BYTES DIRECT_MIN
/* Unwatched (see mproc__pool_slot): a batch older than this goes out after
 * the item that made it so. */
#define BATCH_AGE 0.005

struct mproc_out {
    mproc__buf buf; /* RESULT_HEAD bytes of room, then the result (empty until written) */
    size_t max;
    int too_big;
};

static size_t out_len(const mproc_out *out) { return out->buf.len ? out->buf.len - RESULT_HEAD : 0; }

int mproc_out_write(mproc_out *out, const void *data, size_t len)
{
    size_t need;
    if (!out || (!data && len > 0))
        return mproc__error(MPROC_EINVAL);
    if (len > out->max - out_len(out)) {
        out->too_big = 1;
        return mproc__errorf(MPROC_ETOOBIG, "result over the pool's max_message of %zu bytes", out->max);
    }
    need = len + (out->buf.len ? 0 : RESULT_HEAD);
    if (need > out->buf.cap - out->buf.len && mproc__buf_reserve(&out->buf, need) != 0)
        return mproc__error(MPROC_ENOMEM);
    /* The room's bytes are written when it is used (send_direct). */
    if (!out->buf.len)
        out->buf.len = RESULT_HEAD;
    if (len)
        memcpy(out->buf.data + out->buf.len, data, len);
    out->buf.len += len;
    return 0;
}

/* Ready for the next item. */
static void out_reset(mproc_out *out)
{
    out->too_big = 0;
    out->buf.failed = 0;
    out->buf.len = 0;
    if (out->buf.cap > KEEP_BYTES)
        mproc__buf_free(&out->buf);
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
    put_u32_at(b->msg.data + 1 + 8, b->count);
    put_u32_at(b->msg.data + b->group_at, b->group_n);
    rc = ep->send(ep, b->msg.data, b->msg.len);
    batch_reset(b);
    return rc;
}

/* One group's header: [u32 n][u32 status][u32 code][u32 len]. */
static void group_head(unsigned char *p, uint32_t n, int status, int code, size_t len)
{
    put_u32_at(p, n);
    put_u32_at(p + 4, (uint32_t)status);
    put_u32_at(p + 8, (uint32_t)code);
    put_u32_at(p + 12, (uint32_t)len);
}

static void batch_add(batch *b, uint64_t id, int status, int code, const void *data, size_t len, int watched)
{
    if (b->count == 0) {
        put_u64_at(b->msg.data + 1, id);
        if (!watched)
            b->since = mproc__plat_now();
    }
    if (b->group_at && status == b->group_status && code == b->group_code && len == b->group_len) {
        b->group_n++;
    } else {
        unsigned char head[MPROC__POOL_GROUP_HEAD];
        if (b->group_at)
            put_u32_at(b->msg.data + b->group_at, b->group_n);
        if (mproc__buf_reserve(&b->msg, sizeof head) != 0) {
            b->msg.failed = 1;
            return;
        }
        b->group_at = b->msg.len;
        group_head(head, 0, status, code, len);
        mproc__buf_bytes(&b->msg, head, sizeof head);
        b->group_n = 1;
        b->group_status = status;
        b->group_code = code;
        b->group_len = (uint32_t)len;
    }
    if (len > b->msg.cap - b->msg.len) {
        mproc__buf_bytes(&b->msg, data, len);
    } else if (len) {
        memcpy(b->msg.data + b->msg.len, data, len);
        b->msg.len += len;
    }
    b->count++;
}

/* A large result, sent alone from the room in front of it (after what the
 * batch holds, so results go out in the order they were made). */
static int send_direct(mproc__pool_endpoint *ep, uint64_t id, mproc_out *out, batch *b)
{
    unsigned char *head = out->buf.data;
    int rc = batch_flush(ep, b);
    if (rc != 0)
        return rc;
    head[0] = MPROC__POOL_DONE;
    put_u64_at(head + 1, id);
    put_u32_at(head + 1 + 8, 1);
    group_head(head + MPROC__POOL_DONE_HEAD, 1, 0, 0, out_len(out));
    return ep->send(ep, out->buf.data, out->buf.len);
}

/* Runs one item; its result goes into the batch, or straight out when
 * large.  0, or the error of a send (the channel is gone). */
static int run_item(mproc__pool_endpoint *ep, mproc_task_fn fn, uint64_t id, const void *in, size_t len,
                    mproc_out *out, batch *b, int timed, int watched)
{
    int rc, sent = 0;
    /* The item's start before its id: the dispatcher reads them the other way. */
    if (timed)
        atomic_store_explicit(&ep->slot->since_us, (long long)(mproc__plat_now() * 1e6), memory_order_relaxed);
    atomic_store_explicit(&ep->slot->item, id, memory_order_release);
    rc = fn ? fn(in, len, out) : 0;
    atomic_store_explicit(&ep->slot->item, 0, memory_order_release);
    if (!fn)
        batch_add(b, id, MPROC_ENOTREG, 0, NULL, 0, watched);
    else if (out->too_big)
        batch_add(b, id, MPROC_ETOOBIG, 0, NULL, 0, watched);
    else if (out->buf.failed)
        batch_add(b, id, MPROC_ENOMEM, 0, NULL, 0, watched);
    else if (rc != 0)
        batch_add(b, id, MPROC_ETASK, rc, NULL, 0, watched);
    else if (out_len(out) >= DIRECT_MIN)
        sent = send_direct(ep, id, out, b) == 0 ? 1 : -1;
    else
        batch_add(b, id, 0, 0, out->buf.len ? out->buf.data + RESULT_HEAD : NULL, out_len(out), watched);
    out_reset(out);
    return sent < 0 ? -1 : 0;
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

/* What the worker keeps from item to item. */
typedef struct {
    mproc__pool_endpoint *ep;
    batch b;
    mproc_out out;
    mproc_task_fn fn; /* the task of the last TASKS record */
    int ran;
} worker_state;

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

/* Runs the items of one chunk record (its type byte read).  Returns 1
 * once maxtasks is reached, -1 when the channel is gone or the record is
 * malformed. */
static int run_chunk(worker_state *ws, mproc__reader *r, int type)
{
    mproc__pool_endpoint *ep = ws->ep;
    int timed = atomic_load(&ep->slot->timed), watched = atomic_load(&ep->slot->watched);
    uint64_t id;
    uint32_t count, size;
    if (type == MPROC__POOL_TASKS)
        ws->fn = task_of(r);
    id = mproc__rd_u64(r);
    count = mproc__rd_u32(r);
    size = mproc__rd_u32(r);
    for (uint32_t i = 0; i < count && !r->bad; i++) {
        uint32_t len = size != MPROC__POOL_VARIABLE ? size : mproc__rd_u32(r);
        const void *in = mproc__rd_bytes(r, len);
        if (r->bad)
            break;
        if (run_item(ep, ws->fn, id + i, in, len, &ws->out, &ws->b, timed, watched) != 0)
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
    ws.out.max = ep->max_message;
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
    mproc__buf_free(&ws.out.buf);
    return code;
}
