/*
 * The bootstrap record and the life of a spawned child.
 *
 * Parent: encodes {kind, target name, process name, flags, args} into one
 * record, sends it as a frame over the bootstrap channel and waits for the
 * child's one-word acknowledgement, so start() reports a child that could not
 * take its record (no mproc_init, unknown target) instead of returning success
 * for a process that never ran its target.
 *
 * Child: mproc_init() finds the channel, reads and decodes the record, answers
 * and runs the target (or becomes the forkserver).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define RECORD_MAGIC 0x4352504Du /* "MPRC" in little-endian byte order */
#define RECORD_VERSION 1u

/* A spawned child keeps its end of the channel open until it exits: where
 * the platform has no pidfd, the parent's sentinel is that channel's EOF. */
static mproc__handle own_channel = MPROC__NO_HANDLE;

int mproc__record_encode(mproc__encoded *e, const mproc__record *rec)
{
    mproc__buf *b = &e->buf;
    int rc;

    memset(e, 0, sizeof *e);
    mproc__buf_u32(b, RECORD_MAGIC);
    mproc__buf_u8(b, RECORD_VERSION);
    mproc__buf_u8(b, (uint8_t)rec->kind);
    mproc__buf_str(b, rec->target);
    mproc__buf_str(b, rec->name);
    mproc__buf_u8(b, rec->daemon ? 1 : 0);
    mproc__buf_u64(b, (uint64_t)rec->parent_pid);
    rc = mproc__args_encode(rec->args, b, e->hs, &e->nh);
    if (rc == 0 && b->failed)
        rc = MPROC_ENOMEM;
    if (rc != 0) {
        mproc__buf_free(b);
        return mproc__error(rc);
    }
    return 0;
}

void mproc__record_clear(mproc__record *rec)
{
    free(rec->target);
    free(rec->name);
    mproc_args_free(rec->args);
    memset(rec, 0, sizeof *rec);
}

int mproc__record_decode(const void *data, size_t len, const mproc__handle *hs, size_t nh, mproc__record *rec)
{
    mproc__reader r = {data, len, 0, 0};

    memset(rec, 0, sizeof *rec);
    if (mproc__rd_u32(&r) != RECORD_MAGIC || mproc__rd_u8(&r) != RECORD_VERSION)
        r.bad = 1;
    rec->kind = mproc__rd_u8(&r);
    rec->target = mproc__rd_str(&r, MPROC__NAME_MAX);
    rec->name = mproc__rd_str(&r, MPROC__NAME_MAX);
    rec->daemon = mproc__rd_u8(&r);
    rec->parent_pid = (long)mproc__rd_u64(&r);
    if (!r.bad) {
        rec->args = mproc__args_decode(&r, hs, nh); /* takes the handles */
    } else {
        for (size_t i = 0; i < nh; i++)
            mproc__plat_close(hs[i]);
    }
    if (r.bad || r.pos != r.len || (rec->kind != MPROC__BOOT_RUN && rec->kind != MPROC__BOOT_FORKSERVER)) {
        mproc__record_clear(rec);
        return mproc__error(MPROC_EBROKEN);
    }
    if (!rec->target || !rec->name || !rec->args) {
        mproc__record_clear(rec);
        return mproc__error(MPROC_ENOMEM);
    }
    return 0;
}

/* The record as one frame (u32 length, payload) for the bootstrap channel. */
static unsigned char *frame_of(const mproc__buf *rec, size_t *len)
{
    unsigned char *f = malloc(rec->len + 4);
    if (!f)
        return NULL;
    for (int i = 0; i < 4; i++)
        f[i] = (unsigned char)((uint32_t)rec->len >> (8 * i));
    memcpy(f + 4, rec->data, rec->len);
    *len = rec->len + 4;
    return f;
}

int mproc__spawn_record(mproc__child **out, const mproc__encoded *rec)
{
    mproc__child *c;
    mproc__handle ch;
    void *ack = NULL;
    size_t ack_len = 0, flen = 0;
    unsigned char *frame = frame_of(&rec->buf, &flen);
    int rc, code = 0;

    *out = NULL;
    if (!frame)
        return mproc__error(MPROC_ENOMEM);
    if ((rc = mproc__plat_spawn(&c)) != 0) {
        free(frame);
        return rc;
    }
    ch = mproc__plat_child_channel(c);
    rc = mproc__plat_send_bootstrap(c, frame, flen, rec->hs, rec->nh);
    free(frame);
    if (rc == 0)
        rc = mproc__frame_read(ch, &ack, &ack_len, 16);
    if (rc == 0 && ack_len == 4) {
        memcpy(&code, ack, 4);
        free(ack);
        if (code == 0) {
            *out = c;
            return 0;
        }
        rc = code;
    } else if (rc == 0) {
        free(ack);
        rc = MPROC_EBROKEN;
    }
    /* The child refused its record or died before taking it: reap it so a
     * failed start leaves no zombie. */
    mproc__plat_child_wait(c, -1, &code);
    mproc__plat_child_free(c);
    if (rc == MPROC_ECLOSED || rc == MPROC_EBROKEN || rc == MPROC_ESYS)
        return mproc__errorf(MPROC_ENOINIT,
                             "the spawned child exited (code %d) before its mproc_init() took the bootstrap record; "
                             "call mproc_init(argc, argv) first in main",
                             code);
    if (rc == MPROC_ENOTREG)
        return mproc__errorf(rc, "the spawned child has no target of that name");
    return mproc__error(rc);
}

/* Answers the parent: 0 = record taken, else the reason it cannot run. */
static void acknowledge(mproc__handle h, int32_t code) { (void)mproc__frame_write(h, &code, sizeof code); }

static void spawned_child_main(mproc__handle h)
{
    void *data;
    size_t len, nh = 0;
    mproc__handle hs[MPROC__MAX_HANDLES];
    mproc__record rec;
    mproc_target_fn fn;
    int rc;

    if (mproc__plat_recv_bootstrap(h, &data, &len, MPROC__RECORD_MAX, hs, &nh) != 0)
        exit(255); /* the parent went away: there is nobody to run for */
    rc = mproc__record_decode(data, len, hs, nh, &rec);
    free(data);
    if (rc != 0) {
        acknowledge(h, rc);
        exit(255);
    }
    if (rec.kind == MPROC__BOOT_FORKSERVER) {
        mproc__record_clear(&rec);
        acknowledge(h, 0);
        mproc__plat_forkserver_serve(h);
    }
    fn = mproc__target_find(rec.target);
    if (!fn) {
        acknowledge(h, MPROC_ENOTREG);
        mproc__record_clear(&rec);
        exit(255);
    }
    own_channel = h;
    acknowledge(h, 0);
    mproc__become_child(rec.name, rec.daemon);
    rc = fn(rec.args);
    mproc__record_clear(&rec);
    /* exit(), not _exit(): a spawned child is a whole program and finishes
     * like one (stdio flushed, atexit run, including the exit rule). */
    exit(rc);
}

void mproc__run_record(const void *data, size_t len, const mproc__handle *hs, size_t nh)
{
    mproc__record rec;
    mproc_target_fn fn;
    int rc;

    if (mproc__record_decode(data, len, hs, nh, &rec) != 0)
        mproc__plat_exit_now(255);
    if (!(fn = mproc__target_find(rec.target))) {
        mproc__record_clear(&rec);
        mproc__plat_exit_now(255);
    }
    mproc__become_child(rec.name, rec.daemon);
    rc = fn(rec.args);
    mproc__record_clear(&rec);
    mproc__child_exit(rc);
}

void mproc__bootstrap_after_fork(void)
{
    /* A fork of a spawned child must not keep the parent's sentinel alive. */
    if (own_channel != MPROC__NO_HANDLE) {
        mproc__plat_close(own_channel);
        own_channel = MPROC__NO_HANDLE;
    }
}

int mproc_init(int argc, char **argv)
{
    mproc__handle h;
    int rc;

    if (!mproc__plat_initialized() && (rc = mproc__plat_init(argc, argv)) != 0)
        return rc;
    h = mproc__plat_take_bootstrap();
    if (h != MPROC__NO_HANDLE)
        spawned_child_main(h);
    return mproc__check_start_method_env();
}
