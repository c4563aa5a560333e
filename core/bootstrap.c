/*
 * The bootstrap record and the life of a spawned child.
 *
 * Parent: encodes {kind, target name, process name, flags, args} into one
 * record, sends it as a frame over the bootstrap channel and waits for the
 * child's one-word acknowledgement, so start() reports a child that could not
 * take its record (no mproc_init, unknown target) instead of returning success
 * for a process that never ran its target.
 *
 * Child: mproc_init() finds the channel (named by MPROC_BOOTSTRAP, taken
 * once), reads and decodes the record, answers and runs the target (or
 * becomes the forkserver, core/forkserver.c).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define RECORD_MAGIC 0x4352504Du /* "MPRC" in little-endian byte order */
#define RECORD_VERSION 3u /* 2: die_with_parent and its lifeline; 3: the child's attributes */
#define ATTR_STR_MAX ((size_t)1 << 20) /* a variable's name or value, a directory */
#define ATTR_ENV_MAX 65536u            /* variables edited */

/* The child's attributes: u8 present, then u32 count and per variable its
 * name, u8 set and value; u8 and the directory; u8 mask of the std streams
 * whose handles follow the arguments'. */
static void attrs_encode(const mproc__child_attrs *a, mproc__buf *b)
{
    unsigned mask = 0;
    mproc__buf_u8(b, a ? 1 : 0);
    if (!a)
        return;
    mproc__buf_u32(b, (uint32_t)a->n_env);
    for (size_t i = 0; i < a->n_env; i++) {
        mproc__buf_str(b, a->env_names[i]);
        mproc__buf_u8(b, a->env_values[i] ? 1 : 0);
        mproc__buf_str(b, a->env_values[i]);
    }
    mproc__buf_u8(b, a->cwd ? 1 : 0);
    mproc__buf_str(b, a->cwd);
    for (int i = 0; i < 3; i++)
        if (a->std[i] != MPROC__NO_HANDLE)
            mask |= 1u << i;
    mproc__buf_u8(b, (uint8_t)mask);
}

/* What attrs_encode wrote; the std handles come later (*mask says which).
 * NULL with r->bad when malformed, or when out of memory (*nomem). */
static mproc__child_attrs *attrs_decode(mproc__reader *r, unsigned *mask, int *nomem)
{
    mproc__child_attrs *a;
    uint32_t n;
    *mask = 0;
    int present = mproc__rd_u8(r);
    if (present > 1)
        r->bad = 1;
    if (present != 1)
        return NULL;
    n = mproc__rd_u32(r);
    if (r->bad || n > ATTR_ENV_MAX || !(a = calloc(1, sizeof *a))) {
        *nomem = !r->bad && n <= ATTR_ENV_MAX;
        r->bad = 1;
        return NULL;
    }
    for (int i = 0; i < 3; i++)
        a->std[i] = MPROC__NO_HANDLE;
    a->env_names = calloc(n ? n : 1, sizeof *a->env_names);
    a->env_values = calloc(n ? n : 1, sizeof *a->env_values);
    if (!a->env_names || !a->env_values)
        *nomem = 1;
    for (uint32_t i = 0; !*nomem && !r->bad && i < n; i++) {
        int set;
        a->n_env = i + 1;
        a->env_names[i] = mproc__rd_str(r, ATTR_STR_MAX);
        set = mproc__rd_u8(r);
        a->env_values[i] = mproc__rd_str(r, ATTR_STR_MAX);
        if (set > 1)
            r->bad = 1;
        if (!set) {
            free(a->env_values[i]);
            a->env_values[i] = NULL;
        }
        if (!r->bad && (!a->env_names[i] || (set && !a->env_values[i])))
            *nomem = 1;
    }
    if (!*nomem && !r->bad) {
        int has_cwd = mproc__rd_u8(r);
        a->cwd = mproc__rd_str(r, ATTR_STR_MAX);
        if (has_cwd > 1)
            r->bad = 1;
        if (!has_cwd) {
            free(a->cwd);
            a->cwd = NULL;
        } else if (!a->cwd && !r->bad) {
            *nomem = 1;
        }
        *mask = mproc__rd_u8(r);
        if (*mask > 7)
            r->bad = 1;
    }
    if (*nomem || r->bad) {
        mproc__attrs_free(a);
        r->bad = 1;
        return NULL;
    }
    return a;
}

int mproc__record_encode(mproc__encoded *e, const mproc__record *rec)
{
    mproc__buf *b = &e->buf;
    int rc;

    memset(e, 0, sizeof *e);
    e->target = rec->target;
    e->name = rec->name;
    e->cwd = rec->attrs ? rec->attrs->cwd : NULL;
    mproc__buf_u32(b, RECORD_MAGIC);
    mproc__buf_u8(b, RECORD_VERSION);
    mproc__buf_u8(b, (uint8_t)rec->kind);
    mproc__buf_str(b, rec->target);
    mproc__buf_str(b, rec->name);
    mproc__buf_u8(b, rec->daemon ? 1 : 0);
    mproc__buf_u64(b, (uint64_t)rec->parent_pid);
    /* Whether the child dies with its parent, and whether its lifeline
     * follows the arguments' handles: read before the arguments take
     * theirs. */
    mproc__buf_u8(b, rec->die_with_parent ? 1 : 0);
    mproc__buf_u8(b, rec->die_with_parent && rec->lifeline != MPROC__NO_HANDLE ? 1 : 0);
    attrs_encode(rec->attrs, b);
    rc = mproc__args_encode(rec->args, b, e->hs, &e->nh);
    for (int i = 0; rc == 0 && rec->attrs && i < 3; i++) {
        if (rec->attrs->std[i] == MPROC__NO_HANDLE)
            continue;
        if (e->nh < MPROC__MAX_HANDLES)
            e->hs[e->nh++] = rec->attrs->std[i];
        else
            rc = MPROC_ETOOBIG;
    }
    if (rc == 0 && rec->die_with_parent && rec->lifeline != MPROC__NO_HANDLE) {
        if (e->nh < MPROC__MAX_HANDLES)
            e->hs[e->nh++] = rec->lifeline;
        else
            rc = MPROC_ETOOBIG;
    }
    e->die_with_parent = rec->die_with_parent != 0;
    if (rc == 0 && b->failed)
        rc = MPROC_ENOMEM;
    if (rc != 0) {
        mproc__buf_free(b);
        return mproc__raise(rc);
    }
    return 0;
}

void mproc__record_clear(mproc__record *rec)
{
    free(rec->target);
    free(rec->name);
    mproc_args_free(rec->args);
    mproc__plat_close(rec->lifeline);
    mproc__attrs_free(rec->attrs);
    memset(rec, 0, sizeof *rec);
    rec->lifeline = MPROC__NO_HANDLE;
}

int mproc__record_decode(const void *data, size_t len, const mproc__handle *hs, size_t nh, mproc__record *rec)
{
    mproc__reader r = {data, len, 0, 0};
    int has_lifeline, nomem = 0;
    unsigned mask = 0;

    memset(rec, 0, sizeof *rec);
    rec->lifeline = MPROC__NO_HANDLE;
    if (mproc__rd_u32(&r) != RECORD_MAGIC || mproc__rd_u8(&r) != RECORD_VERSION)
        r.bad = 1;
    rec->kind = mproc__rd_u8(&r);
    rec->target = mproc__rd_str(&r, MPROC__NAME_MAX);
    rec->name = mproc__rd_str(&r, MPROC__NAME_MAX);
    rec->daemon = mproc__rd_u8(&r);
    rec->parent_pid = (long)mproc__rd_u64(&r);
    rec->die_with_parent = mproc__rd_u8(&r);
    has_lifeline = mproc__rd_u8(&r);
    if (rec->die_with_parent > 1 || has_lifeline > rec->die_with_parent || (has_lifeline && nh == 0))
        r.bad = 1;
    if (!r.bad)
        rec->attrs = attrs_decode(&r, &mask, &nomem);
    if (!r.bad && has_lifeline)
        rec->lifeline = hs[--nh]; /* the last one, after the std streams' */
    for (int i = 2; i >= 0 && !r.bad; i--) {
        if (!(mask & (1u << i)))
            continue;
        if (nh == 0)
            r.bad = 1;
        else
            rec->attrs->std[i] = hs[--nh]; /* after the arguments' */
    }
    if (!r.bad) {
        rec->args = mproc__args_decode(&r, hs, nh); /* takes the handles */
    } else {
        for (size_t i = 0; i < nh; i++)
            mproc__plat_close(hs[i]);
    }
    if (r.bad || r.pos != r.len || (rec->kind != MPROC__BOOT_RUN && rec->kind != MPROC__BOOT_FORKSERVER)) {
        mproc__record_clear(rec);
        return mproc__error(nomem ? MPROC_ENOMEM : MPROC_EBROKEN);
    }
    if (!rec->target || !rec->name || !rec->args) {
        mproc__record_clear(rec);
        return mproc__error(MPROC_ENOMEM);
    }
    return 0;
}

int mproc__record_send(mproc__handle channel, mproc__child *to, const mproc__encoded *rec)
{
    int rc;
    if (mproc__fault_hit(MPROC__FAULT_BOOTSTRAP_SEND))
        return mproc__errorf(MPROC_ESYS, "bootstrap send failed (injected fault)");
    rc = mproc__plat_send_handles(channel, to, rec->hs, rec->nh);
    return rc ? rc : mproc__frame_write(channel, rec->buf.data, rec->buf.len);
}

int mproc__record_recv(mproc__handle channel, void **data, size_t *len, mproc__handle *hs, size_t *nh)
{
    int rc = mproc__plat_recv_handles(channel, hs, MPROC__MAX_HANDLES, nh);
    if (rc != 0)
        return rc;
    if ((rc = mproc__frame_read(channel, data, len, MPROC__RECORD_MAX)) != 0) {
        mproc__close_handles(hs, *nh);
        *nh = 0;
        /* The handles came: EOF now is a torn message, not a clean close. */
        return rc == MPROC_ECLOSED ? mproc__error(MPROC_EBROKEN) : rc;
    }
    return 0;
}

/* The child's answer, a frame holding two int32 (a code, 0 when it took
 * its record, and the MPROC__FAIL_* stage), read in place: once the child
 * may have taken its record (and run its target) nothing here can fail
 * for want of memory, so a start never kills a child that is already
 * running its target (it could hold a lock the parent shares). */
static int read_answer(mproc__handle h, int32_t answer[2])
{
    unsigned char frame[4 + 2 * sizeof(int32_t)];
    int rc = mproc__plat_read_all(h, frame, 4);
    if (rc != 0)
        return rc;
    if (frame[0] != 2 * sizeof(int32_t) || frame[1] || frame[2] || frame[3])
        return MPROC_EBROKEN;
    if ((rc = mproc__plat_read_all(h, frame + 4, 2 * sizeof(int32_t))) != 0)
        return rc == MPROC_ECLOSED ? MPROC_EBROKEN : rc;
    memcpy(answer, frame + 4, 2 * sizeof(int32_t));
    return 0;
}

int mproc__child_failed(int code, int stage, const mproc__encoded *rec)
{
    const char *name = rec->name ? rec->name : "the child", *target = rec->target ? rec->target : "?";
    switch (stage) {
    case MPROC__FAIL_TARGET:
        return mproc__errorf(MPROC_ENOTREG,
                             "target '%s' of %s is not registered in the new process, which knows the targets this "
                             "program registers when it starts: one registered later (by a plugin loaded with "
                             "dlopen after mproc_init, or by mproc_register_target after start-up) is unknown "
                             "there; register it with MPROC_TARGET in the program itself, have spawn load its plugin "
                             "(mproc_set_spawn_module), or use the fork method",
                             target, name);
    case MPROC__FAIL_LIFELINE:
        return mproc__errorf(code, "%s could not watch this process's life (die_with_parent: %s), so it did not run "
                                   "target '%s'",
                             name, mproc_strerror(code), target);
    case MPROC__FAIL_ENV:
        return mproc__errorf(code, "%s could not set its environment (%s), so it did not run target '%s'", name,
                             mproc_strerror(code), target);
    case MPROC__FAIL_CWD:
        return mproc__errorf(code, "%s could not enter its working directory '%s' (%s), so it did not run target '%s'",
                             name, rec->cwd ? rec->cwd : "?", mproc_strerror(code), target);
    case MPROC__FAIL_STDIO:
        return mproc__errorf(code, "%s could not redirect its standard streams (%s), so it did not run target '%s'",
                             name, mproc_strerror(code), target);
    default:
        return mproc__errorf(code, "%s could not take its start record in the new process (%s), so it did not run "
                                   "target '%s'",
                             name, mproc_strerror(code), target);
    }
}

int mproc__spawn_record(mproc__child **out, const mproc__encoded *rec)
{
    mproc__child *c;
    mproc__spawn_how how;
    int32_t answer[2] = {0, 0};
    int rc, sent, code = 0;

    *out = NULL;
    if ((rc = mproc__spawn_how_get(&how)) != 0)
        return rc;
    rc = mproc__plat_spawn(&c, MPROC__BOOTSTRAP_VAR, &how.program, rec->spawn_attrs);
    if (rc == MPROC_ESYS && how.path)
        rc = mproc__errorf(MPROC_ESYS, "cannot start %s '%s' (OS error %ld)",
                           how.module ? "the spawn module's helper" : "the program set with mproc_set_executable",
                           how.path, mproc_last_os_error());
    mproc__spawn_how_clear(&how);
    if (rc != 0)
        return rc;
    /* Before the record: until the child has it, it runs nothing of its
     * own, so it cannot outlive us unbound (it reads end of file). */
    rc = rec->die_with_parent ? mproc__plat_lifeline_bind(c) : 0;
    if (rc == 0)
        rc = mproc__record_send(mproc__plat_child_channel(c), c, rec);
    sent = rc == 0;
    if (sent)
        rc = read_answer(mproc__plat_child_channel(c), answer);
    if (rc == 0 && answer[0] == 0) {
        *out = c;
        return 0;
    }
    /* The child did not take its record.  It may still run (waiting on the
     * channel we hold, or doing anything else before its mproc_init): end
     * it before reaping, as libuv reaps a child whose exec failed, never
     * wait on it first.  One already leaving is not hurt by the signal. */
    (void)mproc__plat_child_signal(c, 1);
    (void)mproc__plat_child_wait(c, -1, &code);
    mproc__plat_child_free(c);
    if (rc == 0) /* the child answered why it cannot run */
        return mproc__child_failed(answer[0] < 0 ? answer[0] : MPROC_EBROKEN, answer[1], rec);
    if (!sent && rc != MPROC_ECLOSED)
        return rc;
    if (rc == MPROC_ECLOSED || rc == MPROC_EBROKEN || rc == MPROC_ESYS)
        return mproc__errorf(MPROC_ENOINIT,
                             "the spawned child closed its bootstrap channel (exit code %d) before its mproc_init() "
                             "took the record; call mproc_init(argc, argv) first in main",
                             code);
    return mproc__raise(rc);
}

/* ---- the child's side ------------------------------------------------------ */

/* The global lock guards these. */
static int bootstrap_taken;
/* A spawned child keeps its end of the channel open until it exits: where
 * the platform has no pidfd, the parent's sentinel is that channel's EOF. */
static mproc__handle own_channel = MPROC__NO_HANDLE;

static void close_own_channel_after_fork(void)
{
    /* A fork of a spawned child must not keep the parent's sentinel alive. */
    if (own_channel != MPROC__NO_HANDLE) {
        mproc__plat_close(own_channel);
        own_channel = MPROC__NO_HANDLE;
    }
}

int mproc__bootstrap_pending(void)
{
    int taken;
    mproc__plat_global_lock();
    taken = bootstrap_taken;
    mproc__plat_global_unlock();
    return !taken && mproc__plat_getenv(MPROC__BOOTSTRAP_VAR) != NULL;
}

mproc__handle mproc__bootstrap_take(void)
{
    const char *value;
    char *end;
    long long v;
    int first;

    mproc__plat_global_lock();
    first = !bootstrap_taken;
    bootstrap_taken = 1;
    mproc__plat_global_unlock();
    if (!first || !(value = mproc__plat_getenv(MPROC__BOOTSTRAP_VAR)))
        return MPROC__NO_HANDLE;
    v = value[0] >= '0' && value[0] <= '9' ? strtoll(value, &end, 10) : -1;
    if (v < 0 || *end != '\0' || v > INTPTR_MAX)
        v = -1;
    /* Our own children must not believe they were spawned with it. */
    mproc__plat_unsetenv(MPROC__BOOTSTRAP_VAR);
    if (v < 0 || mproc__plat_adopt_channel((mproc__handle)v) != 0)
        return MPROC__NO_HANDLE;
    return (mproc__handle)v;
}

/* Answers the parent: code 0 = record taken, else why it cannot run. */
static void acknowledge(mproc__handle h, int32_t code, int32_t stage)
{
    int32_t answer[2];
    answer[0] = code;
    answer[1] = stage;
    (void)mproc__frame_write(h, answer, sizeof answer);
}

int mproc__bootstrap_run(mproc__handle h)
{
    void *data;
    size_t len, nh = 0;
    mproc__handle hs[MPROC__MAX_HANDLES];
    mproc__record rec;
    int rc, stage = MPROC__FAIL_RECORD;

    if (mproc__record_recv(h, &data, &len, hs, &nh) != 0)
        exit(255); /* the parent went away: there is nobody to run for */
    rc = mproc__record_decode(data, len, hs, nh, &rec);
    free(data);
    if (rc != 0) {
        acknowledge(h, rc, stage);
        exit(255);
    }
    if (rec.kind == MPROC__BOOT_FORKSERVER) {
        mproc__record_clear(&rec);
        acknowledge(h, 0, 0);
        return 1;
    }
    if ((rc = mproc__record_prepare(&rec, &stage)) != 0) {
        acknowledge(h, rc, stage);
        mproc__record_clear(&rec);
        exit(255);
    }
    own_channel = h;
    mproc__on_fork_child(close_own_channel_after_fork);
    acknowledge(h, 0, 0);
    mproc__run_record(&rec, 1);
}

int mproc__record_prepare(mproc__record *rec, int *stage)
{
    int rc;
    if (!mproc__target_find(rec->target)) {
        *stage = MPROC__FAIL_TARGET;
        return MPROC_ENOTREG;
    }
    /* Before the lifeline's watcher thread exists: setenv is not safe
     * against other threads. */
    if ((rc = mproc__attrs_apply(rec->attrs, stage)) != 0)
        return rc;
    if (rec->attrs) {
        /* Our copies of the std streams' handles are not the target's. */
        for (int i = 0; i < 3; i++) {
            mproc__plat_close(rec->attrs->std[i]);
            rec->attrs->std[i] = MPROC__NO_HANDLE;
        }
    }
    if (rec->die_with_parent) {
        mproc__handle life = rec->lifeline;
        rec->lifeline = MPROC__NO_HANDLE; /* the watcher has it now */
        /* Running unwatched could outlive the parent, which asked that
         * this never happen. */
        if (mproc__plat_lifeline_watch(life, rec->parent_pid) != 0) {
            int rc = mproc_last_error();
            *stage = MPROC__FAIL_LIFELINE;
            return rc < 0 ? rc : MPROC_ESYS;
        }
    }
    return 0;
}

void mproc__run_record(mproc__record *rec, int whole_program)
{
    mproc_target_fn fn = mproc__target_find(rec->target);
    int rc;

    if (!fn) { /* prepared: cannot happen */
        mproc__record_clear(rec);
        mproc__plat_exit_now(255);
    }
    /* A forkserver child's OS parent is the server: the real one is the
     * process that asked for it. */
    if (whole_program)
        mproc__current_set(rec->name, rec->daemon, MPROC_SPAWN, 0);
    else
        mproc__current_set(rec->name, rec->daemon, MPROC_FORKSERVER, rec->parent_pid);
    rc = fn(rec->args);
    mproc__record_clear(rec);
    /* A spawned child is a whole program and finishes like one (stdio
     * flushed, atexit run, the exit work among it); a forkserver child is a
     * fork and must not run the atexit handlers it inherited. */
    if (whole_program)
        exit(rc);
    mproc__exit_process(rc);
}
