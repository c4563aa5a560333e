/*
 * A pool worker's loop, the same over every transport: read a chunk of
 * tasks, run each, send the results.  Results are batched (one message per
 * chunk, or sooner once they fill MPROC__POOL_CHUNK_BYTES or a slow item
 * has run) so a chunk of trivial tasks costs one write, while the status
 * slot tells the dispatcher at every moment which item runs: that is the
 * one to blame if the worker dies, and the one task_timeout measures.
 */
#include <stdlib.h>
#include <string.h>

#include "pool_internal.h"

/* What a task writes goes after room for its own DONE message's header
 * (one result), so a large result is sent as it is, not copied into the
 * batch: a 16 MiB result costs one copy less. */
#define RESULT_HEAD (1 + 4 + 8 + 4 + 4 + 4)
#define DIRECT_MIN ((size_t)64 << 10)

struct mproc_out {
    mproc__buf buf; /* RESULT_HEAD bytes of room, then the result (empty until written) */
    size_t max;
    int too_big;
};

static size_t out_len(const mproc_out *out) { return out->buf.len ? out->buf.len - RESULT_HEAD : 0; }

int mproc_out_write(mproc_out *out, const void *data, size_t len)
{
    static const unsigned char room[RESULT_HEAD] = {0};
    if (!out || (!data && len > 0))
        return mproc__error(MPROC_EINVAL);
    if (len > out->max - out_len(out)) {
        out->too_big = 1;
        return mproc__errorf(MPROC_ETOOBIG, "result over the pool's max_message of %zu bytes", out->max);
    }
    if (mproc__buf_reserve(&out->buf, len + (out->buf.len ? 0 : RESULT_HEAD)) != 0)
        return mproc__error(MPROC_ENOMEM);
    if (!out->buf.len)
        mproc__buf_bytes(&out->buf, room, RESULT_HEAD);
    mproc__buf_bytes(&out->buf, data, len);
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

/* Results not yet sent: a DONE message being built. */
typedef struct {
    mproc__buf msg;
    uint32_t count;
    double since; /* when the oldest unsent result was added */
} batch;

static void batch_reset(batch *b)
{
    b->msg.len = 0;
    b->msg.failed = 0;
    mproc__buf_u8(&b->msg, MPROC__POOL_DONE);
    mproc__buf_u32(&b->msg, 0);
    b->count = 0;
}

static int batch_flush(mproc__pool_endpoint *ep, batch *b)
{
    int rc;
    if (b->count == 0)
        return 0;
    if (b->msg.failed)
        return MPROC_ENOMEM;
    /* The count after the type byte, little-endian as the buffer writes it. */
    for (int i = 0; i < 4; i++)
        b->msg.data[1 + i] = (unsigned char)(b->count >> (8 * i));
    rc = ep->send(ep, b->msg.data, b->msg.len);
    batch_reset(b);
    return rc;
}

/* One result's header in a DONE message: [u64 id][u32 status][u32 code][u32 len]. */
static void result_head(mproc__buf *m, uint64_t id, int status, int code, size_t len)
{
    mproc__buf_u64(m, id);
    mproc__buf_u32(m, (uint32_t)status);
    mproc__buf_u32(m, (uint32_t)code);
    mproc__buf_u32(m, (uint32_t)len);
}

static void batch_add(batch *b, uint64_t id, int status, int code, const void *data, size_t len)
{
    if (b->count == 0)
        b->since = mproc__plat_now();
    result_head(&b->msg, id, status, code, len);
    mproc__buf_bytes(&b->msg, data, len);
    b->count++;
}

/* A large result, sent alone from the room in front of it (after what the
 * batch holds, so results go out in the order they were made). */
static int send_direct(mproc__pool_endpoint *ep, uint64_t id, mproc_out *out, batch *b)
{
    /* Written in place: the room is exactly RESULT_HEAD bytes, so the
     * writer never grows (or frees) this view of out's buffer. */
    mproc__buf head = {out->buf.data, 0, RESULT_HEAD, 0};
    int rc = batch_flush(ep, b);
    if (rc != 0)
        return rc;
    mproc__buf_u8(&head, MPROC__POOL_DONE);
    mproc__buf_u32(&head, 1);
    result_head(&head, id, 0, 0, out_len(out));
    return ep->send(ep, out->buf.data, out->buf.len);
}

/* Runs one item; its result goes into the batch, or straight out when
 * large.  0, or the error of a send (the channel is gone). */
static int run_item(mproc__pool_endpoint *ep, mproc_task_fn fn, uint64_t id, const void *in, size_t len, batch *b)
{
    mproc_out out = {{NULL, 0, 0, 0}, ep->max_message, 0};
    int rc, sent = 0;
    atomic_store(&ep->slot->since_us, (long long)(mproc__plat_now() * 1e6));
    atomic_store(&ep->slot->item, id);
    rc = fn ? fn(in, len, &out) : 0;
    atomic_store(&ep->slot->item, 0);
    if (!fn)
        batch_add(b, id, MPROC_ENOTREG, 0, NULL, 0);
    else if (out.too_big)
        batch_add(b, id, MPROC_ETOOBIG, 0, NULL, 0);
    else if (out.buf.failed)
        batch_add(b, id, MPROC_ENOMEM, 0, NULL, 0);
    else if (rc != 0)
        batch_add(b, id, MPROC_ETASK, rc, NULL, 0);
    else if (out_len(&out) >= DIRECT_MIN)
        sent = send_direct(ep, id, &out, b) == 0 ? 1 : -1;
    else
        batch_add(b, id, 0, 0, out.buf.len ? out.buf.data + RESULT_HEAD : NULL, out_len(&out));
    mproc__buf_free(&out.buf);
    return sent < 0 ? -1 : 0;
}

/* The function a TASKS message names: by name when registered here, else
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

/* Runs the tasks of one TASKS message.  Returns 1 once maxtasks is reached. */
static int run_chunk(mproc__pool_endpoint *ep, mproc__reader *r, batch *b, int *ran)
{
    mproc_task_fn fn = task_of(r);
    uint32_t count = mproc__rd_u32(r);
    for (uint32_t i = 0; i < count && !r->bad; i++) {
        uint64_t id = mproc__rd_u64(r);
        uint32_t len = mproc__rd_u32(r);
        const void *in = mproc__rd_bytes(r, len);
        if (r->bad)
            break;
        if (run_item(ep, fn, id, in, len, b) != 0)
            return -1;
        ++*ran;
        /* A slow item's result goes out now (imap, progress, apply_async
         * hear of it); a stream of fast ones waits for the chunk's end. */
        if (b->msg.len >= MPROC__POOL_CHUNK_BYTES || mproc__plat_now() - b->since > 0.005)
            if (batch_flush(ep, b) != 0)
                return -1;
        if (ep->maxtasks > 0 && *ran >= ep->maxtasks)
            return 1;
    }
    return r->bad ? -1 : 0;
}

int mproc__pool_worker_loop(mproc__pool_endpoint *ep, mproc_target_fn initializer, mproc_args *initargs)
{
    static const unsigned char ready = MPROC__POOL_READY;
    batch b = {{NULL, 0, 0, 0}, 0, 0};
    int code = 0, ran = 0;

    if (initializer && (code = initializer(initargs)) != 0)
        return code;
    if (ep->send(ep, &ready, 1) != 0)
        return 0;
    batch_reset(&b);
    for (;;) {
        void *msg = NULL;
        size_t len = 0;
        mproc__reader r;
        int rc;
        if (ep->recv(ep, &msg, &len) != 0)
            break;
        /* A message holds one or more chunks, back to back. */
        r = (mproc__reader){msg, len, 0, 0};
        rc = 0;
        while (rc == 0 && r.pos < r.len) {
            if (mproc__rd_u8(&r) != MPROC__POOL_TASKS) {
                rc = 2; /* STOP, or a message this worker does not know */
                break;
            }
            rc = run_chunk(ep, &r, &b, &ran);
        }
        ep->release(ep, msg);
        if (rc == 2) {
            (void)batch_flush(ep, &b);
            break;
        }
        if (rc != 0 || batch_flush(ep, &b) != 0) {
            code = rc < 0 ? 1 : 0;
            (void)batch_flush(ep, &b);
            break;
        }
    }
    mproc__buf_free(&b.msg);
    return code;
}
