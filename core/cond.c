/*
 * Condition, Event and Barrier, as CPython's synchronize.py builds them:
 * a Condition is its lock plus three process-shared semaphores (sleepers,
 * woken, and the one sleepers wait on); Event and Barrier are a Condition
 * over shared state.
 */
#include <limits.h>
#include <stdlib.h>

#include "internal.h"

enum { SLEEPING, WOKEN, WAIT };

struct mproc_cond {
    mproc__block b;
    mproc_lock *lock;
    int owns_lock; /* made by mproc_cond_new(ctx, NULL), or imported */
};

static mproc__psync *prim(mproc_cond *c, int i) { return &c->b.prims[i]; }

static mproc_cond *cond_alloc(void)
{
    mproc_cond *c = calloc(1, sizeof *c);
    return c ? c : mproc__null(MPROC_ENOMEM);
}

mproc_cond *mproc_cond_new(mproc_ctx *ctx, mproc_lock *lock)
{
    static const int kinds[] = {MPROC__PRIM_SEM, MPROC__PRIM_SEM, MPROC__PRIM_SEM};
    static const unsigned zero[] = {0, 0, 0}, max[] = {0x7fffffffu, 0x7fffffffu, 0x7fffffffu};
    mproc_cond *c = cond_alloc();
    int rc;

    if (!c)
        return NULL;
    c->lock = lock ? lock : mproc_rlock_new(ctx);
    c->owns_lock = !lock;
    if (!c->lock || (rc = mproc__block_new(&c->b, 0, kinds, zero, max, 3)) != 0) {
        rc = mproc_last_error();
        if (c->owns_lock)
            mproc_lock_free(c->lock);
        free(c);
        return mproc__null(rc);
    }
    return c;
}

mproc_lock *mproc_cond_lock(mproc_cond *c) { return c ? c->lock : NULL; }

int mproc_cond_wait(mproc_cond *c, double timeout)
{
    unsigned count;
    int rc;
    if (mproc__timeout(&timeout) != 0)
        return mproc_last_error();

    if (!c)
        return mproc__error(MPROC_EINVAL);
    if (!mproc__lock_is_mine(c->lock))
        return mproc__errorf(MPROC_ESTATE, "must acquire the condition's lock before waiting");
    /* Counted as a sleeper before the lock goes: a notifier that takes the
     * lock next must see this waiter. */
    mproc__plat_psem_release(prim(c, SLEEPING));
    count = mproc__lock_release_all(c->lock);
    rc = mproc__plat_psem_acquire(prim(c, WAIT), timeout);
    /* Tell the notifier this sleeper is awake (or gave up). */
    mproc__plat_psem_release(prim(c, WOKEN));
    mproc__lock_restore(c->lock, count);
    return rc ? mproc__error(rc) : 0;
}

int mproc_cond_notify(mproc_cond *c, unsigned n)
{
    unsigned sleepers = 0;

    if (!c)
        return mproc__error(MPROC_EINVAL);
    if (!mproc__lock_is_mine(c->lock))
        return mproc__errorf(MPROC_ESTATE, "must acquire the condition's lock before notifying");
    /* Account for sleepers that timed out since the last notify. */
    while (mproc__plat_psem_acquire(prim(c, WOKEN), 0) == 0)
        (void)mproc__plat_psem_acquire(prim(c, SLEEPING), 0);
    while (sleepers < n && mproc__plat_psem_acquire(prim(c, SLEEPING), 0) == 0) {
        mproc__plat_psem_release(prim(c, WAIT));
        sleepers++;
    }
    if (sleepers) {
        /* Wait for each woken sleeper to say so, then take back wake-ups
         * nobody consumed (a sleeper that timed out meanwhile). */
        for (unsigned i = 0; i < sleepers; i++)
            mproc__plat_psem_acquire(prim(c, WOKEN), -1);
        while (mproc__plat_psem_acquire(prim(c, WAIT), 0) == 0)
            ;
    }
    return 0;
}

int mproc_cond_notify_all(mproc_cond *c) { return mproc_cond_notify(c, UINT_MAX); }

void mproc_cond_free(mproc_cond *c)
{
    if (!c)
        return;
    mproc__block_free(&c->b);
    if (c->owns_lock)
        mproc_lock_free(c->lock);
    free(c);
}

/* Waits until pred(state) holds or timeout passes; lock held. 0/ETIMEDOUT. */
static int wait_for(mproc_cond *c, int (*pred)(void *), void *state, double timeout)
{
    double deadline = mproc__plat_now() + timeout;
    while (!pred(state)) {
        double left = timeout < 0 ? -1 : deadline - mproc__plat_now();
        if (timeout >= 0 && left <= 0)
            return MPROC_ETIMEDOUT;
        if (mproc_cond_wait(c, left) == MPROC_ETIMEDOUT && !pred(state))
            return MPROC_ETIMEDOUT;
    }
    return 0;
}

/* Event and Barrier are each a Condition over a block of shared state,
 * exported the same way (a pointer to a struct converts to a pointer to its
 * first member, so one pair of export/import functions serves both). */
typedef struct {
    mproc_cond *cond;
    mproc__block b;
} cond_and_block;

/* ---- Event ----------------------------------------------------------------- */

typedef struct {
    int flag;
} event_state;

struct mproc_event {
    cond_and_block s; /* the condition, and the flag */
};

mproc_event *mproc_event_new(mproc_ctx *ctx)
{
    mproc_event *e = calloc(1, sizeof *e);
    mproc_lock *lock = NULL; /* ours until the condition owns it */
    int rc = 0;

    if (!e)
        return mproc__null(MPROC_ENOMEM);
    /* A plain Lock, as CPython's Event: a failed lock_new must not reach
     * cond_new as NULL (that would quietly make an RLock). */
    if (!(lock = mproc_lock_new(ctx)) || !(e->s.cond = mproc_cond_new(ctx, lock))) {
        rc = mproc_last_error();
        goto done;
    }
    e->s.cond->owns_lock = 1;
    lock = NULL;
    rc = mproc__block_new(&e->s.b, sizeof(event_state), NULL, NULL, NULL, 0);
done:
    if (rc != 0) {
        mproc_cond_free(e->s.cond);
        mproc_lock_free(lock);
        free(e);
        return mproc__null(rc);
    }
    return e;
}

static int flag_set(void *st) { return ((event_state *)st)->flag; }

int mproc_event_set(mproc_event *e)
{
    if (!e)
        return mproc__error(MPROC_EINVAL);
    mproc_lock_acquire(e->s.cond->lock, -1);
    ((event_state *)e->s.b.state)->flag = 1;
    mproc_cond_notify_all(e->s.cond);
    mproc_lock_release(e->s.cond->lock);
    return 0;
}

int mproc_event_clear(mproc_event *e)
{
    if (!e)
        return mproc__error(MPROC_EINVAL);
    mproc_lock_acquire(e->s.cond->lock, -1);
    ((event_state *)e->s.b.state)->flag = 0;
    mproc_lock_release(e->s.cond->lock);
    return 0;
}

int mproc_event_is_set(mproc_event *e)
{
    int v;
    if (!e)
        return mproc__error(MPROC_EINVAL);
    mproc_lock_acquire(e->s.cond->lock, -1);
    v = ((event_state *)e->s.b.state)->flag;
    mproc_lock_release(e->s.cond->lock);
    return v;
}

int mproc_event_wait(mproc_event *e, double timeout)
{
    int rc;
    if (mproc__timeout(&timeout) != 0)
        return mproc_last_error();
    if (!e)
        return mproc__error(MPROC_EINVAL);
    mproc_lock_acquire(e->s.cond->lock, -1);
    rc = wait_for(e->s.cond, flag_set, e->s.b.state, timeout);
    mproc_lock_release(e->s.cond->lock);
    return rc ? mproc__error(rc) : 0;
}

void mproc_event_free(mproc_event *e)
{
    if (!e)
        return;
    mproc_cond_free(e->s.cond);
    mproc__block_free(&e->s.b);
    free(e);
}

/* ---- Barrier (threading.Barrier's algorithm over shared state) ---------- */

enum { FILLING = 0, DRAINING = 1, RESETTING = -1, BROKEN = -2 };

typedef struct {
    int state;
    unsigned count, parties;
} barrier_state;

struct mproc_barrier {
    cond_and_block s; /* the condition, and barrier_state */
};

mproc_barrier *mproc_barrier_new(mproc_ctx *ctx, unsigned parties)
{
    mproc_barrier *br;
    int rc;
    if (parties == 0)
        return mproc__null(MPROC_EINVAL);
    if (!(br = calloc(1, sizeof *br)))
        return mproc__null(MPROC_ENOMEM);
    if (!(br->s.cond = mproc_cond_new(ctx, NULL))) {
        free(br);
        return NULL;
    }
    if ((rc = mproc__block_new(&br->s.b, sizeof(barrier_state), NULL, NULL, NULL, 0)) != 0) {
        mproc_cond_free(br->s.cond);
        free(br);
        return mproc__null(rc);
    }
    ((barrier_state *)br->s.b.state)->parties = parties;
    return br;
}

static int not_passing(void *st)
{
    int s = ((barrier_state *)st)->state;
    return s != DRAINING && s != RESETTING;
}

static int not_filling(void *st) { return ((barrier_state *)st)->state != FILLING; }

static void barrier_break(mproc_barrier *br)
{
    ((barrier_state *)br->s.b.state)->state = BROKEN;
    mproc_cond_notify_all(br->s.cond);
}

int mproc_barrier_wait(mproc_barrier *br, double timeout)
{
    barrier_state *st;
    double deadline;
    unsigned index;
    int rc = 0;

    if (mproc__timeout(&timeout) != 0)
        return mproc_last_error();
    deadline = mproc__plat_now() + timeout;
    if (!br)
        return mproc__error(MPROC_EINVAL);
    st = br->s.b.state;
    mproc_lock_acquire(br->s.cond->lock, -1);
    /* A previous cycle still draining or resetting: wait for it. */
    wait_for(br->s.cond, not_passing, st, -1);
    if (st->state < 0) {
        mproc_lock_release(br->s.cond->lock);
        return mproc__error(MPROC_EBROKEN);
    }
    index = st->count++;
    if (index + 1 == st->parties) {
        st->state = DRAINING;
        mproc_cond_notify_all(br->s.cond);
    } else {
        double left = timeout < 0 ? -1 : deadline - mproc__plat_now();
        if (wait_for(br->s.cond, not_filling, st, left < 0 && timeout >= 0 ? 0 : left) != 0) {
            barrier_break(br);
            rc = MPROC_ETIMEDOUT;
        } else if (st->state < 0) {
            rc = MPROC_EBROKEN;
        }
    }
    /* Leave: the last one out lets the next cycle fill. */
    if (--st->count == 0 && (st->state == RESETTING || st->state == DRAINING)) {
        st->state = FILLING;
        mproc_cond_notify_all(br->s.cond);
    }
    mproc_lock_release(br->s.cond->lock);
    return rc ? mproc__error(rc) : (int)index;
}

int mproc_barrier_abort(mproc_barrier *br)
{
    if (!br)
        return mproc__error(MPROC_EINVAL);
    mproc_lock_acquire(br->s.cond->lock, -1);
    barrier_break(br);
    mproc_lock_release(br->s.cond->lock);
    return 0;
}

int mproc_barrier_reset(mproc_barrier *br)
{
    barrier_state *st;
    if (!br)
        return mproc__error(MPROC_EINVAL);
    st = br->s.b.state;
    mproc_lock_acquire(br->s.cond->lock, -1);
    if (st->count > 0) {
        /* Waiters get EBROKEN; the barrier refills once they left. */
        if (st->state == FILLING || st->state == BROKEN)
            st->state = RESETTING;
    } else {
        st->state = FILLING;
    }
    mproc_cond_notify_all(br->s.cond);
    mproc_lock_release(br->s.cond->lock);
    return 0;
}

void mproc_barrier_free(mproc_barrier *br)
{
    if (!br)
        return;
    mproc_cond_free(br->s.cond);
    mproc__block_free(&br->s.b);
    free(br);
}

/* ---- passing to children ------------------------------------------------ */

extern const mproc__objtype mproc__lock_type;
extern const mproc__objtype mproc__cond_type;

static int cond_export(void *obj, mproc__buf *b, mproc__handle *hs, size_t *n, size_t cap)
{
    mproc_cond *c = obj;
    int rc = mproc__export_nested(&mproc__lock_type, c->lock, b, hs, n, cap);
    return rc ? rc : mproc__block_export(&c->b, b, hs, n, cap);
}

static void *cond_import(mproc__reader *r, const mproc__handle *hs, size_t n)
{
    mproc_cond *c = cond_alloc();
    size_t used = 0;
    if (!c) {
        mproc__close_handles(hs, n);
        return NULL;
    }
    c->owns_lock = 1;
    if (!(c->lock = mproc__import_nested(&mproc__lock_type, r, hs, n, &used))) {
        mproc__close_handles(hs + used, n - used);
        free(c);
        return mproc__null(MPROC_EBROKEN);
    }
    if (mproc__block_import(&c->b, r, hs + used, n - used) != 0) {
        mproc_lock_free(c->lock);
        free(c);
        return mproc__null(MPROC_EBROKEN);
    }
    return c;
}

static void cond_release(void *obj) { mproc_cond_free(obj); }

static int pair_export(void *obj, mproc__buf *b, mproc__handle *hs, size_t *n, size_t cap)
{
    cond_and_block *x = obj;
    int rc = mproc__export_nested(&mproc__cond_type, x->cond, b, hs, n, cap);
    return rc ? rc : mproc__block_export(&x->b, b, hs, n, cap);
}

static void *pair_import(mproc__reader *r, const mproc__handle *hs, size_t n)
{
    cond_and_block *x = calloc(1, sizeof *x);
    size_t used = 0;
    if (!x) {
        mproc__close_handles(hs, n);
        return mproc__null(MPROC_ENOMEM);
    }
    if (!(x->cond = mproc__import_nested(&mproc__cond_type, r, hs, n, &used))) {
        mproc__close_handles(hs + used, n - used);
        free(x);
        return mproc__null(MPROC_EBROKEN);
    }
    if (mproc__block_import(&x->b, r, hs + used, n - used) != 0) {
        mproc_cond_free(x->cond);
        free(x);
        return mproc__null(MPROC_EBROKEN);
    }
    return x;
}

static void event_release(void *obj) { mproc_event_free(obj); }
static void barrier_release(void *obj) { mproc_barrier_free(obj); }

const mproc__objtype mproc__cond_type = {cond_export, cond_import, cond_release};
const mproc__objtype mproc__event_type = {pair_export, pair_import, event_release};
const mproc__objtype mproc__barrier_type = {pair_export, pair_import, barrier_release};
