/*
 * Condition, Event and Barrier, as CPython's synchronize.py builds them:
 * a Condition is its lock plus three process-shared semaphores (sleepers,
 * woken, and the one sleepers wait on); Event and Barrier are a Condition
 * over shared state.
 *
 * CPython's notify waits, lock held, for every sleeper it woke to say so;
 * a sleeper that was killed never says so, and the notifier (and every
 * process after it that needs the lock) hangs.  Here each sleeper also
 * takes a slot in the condition's shared state (its pid, and whether it is
 * still asleep), so a notifier that hears nothing for a slice can look:
 * a dead sleeper makes it stop waiting and rebuild the counts from the
 * slots (repair), and so does finding that no live sleeper is left to
 * answer.  A notifier that died mid-notify leaves its pid behind, and the
 * next notify repairs first.
 */
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "internal.h"

enum { SLEEPING, WOKEN, WAIT };

/* A waiter: pid and tag set and cleared with the lock held; asleep cleared
 * by the waiter without it, once it has said it woke. */
typedef struct {
    atomic_llong pid; /* 0: a free slot */
    atomic_int asleep;
    atomic_int tag;
} sleeper;

#define SLOTS ((MPROC__BLOCK_STATE_MAX - 64) / sizeof(sleeper))
typedef struct {
    atomic_llong notifier; /* pid of a notify waiting for answers, else 0 */
    atomic_uint untracked; /* waiters that found every slot taken */
    sleeper slots[SLOTS];
} cond_state;
_Static_assert(sizeof(cond_state) <= MPROC__BLOCK_STATE_MAX, "condition state too large for its block");

struct mproc_cond {
    mproc__obj obj;
    mproc__block b;
    mproc_lock *lock;
    int owns_lock; /* made by mproc_cond_new(ctx, NULL), or imported */
};
MPROC__TAG_FIRST(struct mproc_cond);

static mproc__psync *prim(mproc_cond *c, int i) { return &c->b.prims[i]; }
static cond_state *cstate(mproc_cond *c) { return c->b.state; }

static mproc_cond *cond_alloc(void)
{
    mproc_cond *c = calloc(1, sizeof *c);
    if (!c)
        return mproc__null(MPROC_ENOMEM);
    mproc__obj_init(&c->obj, MPROC__T_COND);
    return c;
}

mproc_cond *mproc_cond_new(mproc_ctx *ctx, mproc_lock *lock)
{
    static const int kinds[] = {MPROC__PRIM_SEM, MPROC__PRIM_SEM, MPROC__PRIM_SEM};
    static const unsigned zero[] = {0, 0, 0}, max[] = {0x7fffffffu, 0x7fffffffu, 0x7fffffffu};
    mproc_cond *c;
    int rc;

    /* A lock of shared memory whatever ctx (which is only checked): the
     * thread context's own locks live in one process, and this
     * condition's block does not. */
    if (!mproc__ctx_ok(ctx) || (lock && !mproc__is(lock, MPROC__T_LOCK)))
        return mproc__null(MPROC_EINVAL);
    if (!(c = cond_alloc()))
        return NULL;
    c->lock = lock ? lock : mproc_rlock_new(NULL);
    c->owns_lock = !lock;
    if (c->owns_lock && c->lock)
        mproc__obj_make_inner((mproc__obj *)c->lock); /* mproc_cond_lock shows it; c frees it */
    if (!c->lock || (rc = mproc__block_new(&c->b, sizeof(cond_state), kinds, zero, max, 3)) != 0) {
        rc = mproc_last_error();
        if (c->owns_lock)
            mproc_lock_free(c->lock);
        free(c);
        return mproc__raise_null(rc);
    }
    return c;
}

mproc_lock *mproc_cond_lock(mproc_cond *c)
{
    return mproc__is(c, MPROC__T_COND) ? c->lock : mproc__null(MPROC_EINVAL);
}

/* ---- the sleepers' slots (lock held) ------------------------------------ */

static int claim_slot(mproc_cond *c, int tag)
{
    cond_state *st = cstate(c);
    for (size_t i = 0; i < SLOTS; i++) {
        if (atomic_load(&st->slots[i].pid) == 0) {
            atomic_store(&st->slots[i].tag, tag);
            atomic_store(&st->slots[i].asleep, 1);
            atomic_store(&st->slots[i].pid, mproc__plat_getpid());
            return (int)i;
        }
    }
    atomic_fetch_add(&st->untracked, 1);
    return -1;
}

static unsigned take_all(mproc__psync *s)
{
    unsigned n = 0;
    while (mproc__plat_psem_acquire(s, 0) == 0)
        n++;
    return n;
}

/* After a member died: frees the dead sleepers' slots and sets the counts
 * to what the live slots say.  SLEEPING becomes the live sleepers still
 * asleep (and every untracked one); wake-ups and answers in flight are
 * dropped.  A live sleeper that took a wake-up and has not answered yet
 * is counted asleep and answers later, which the next notify reads as a
 * sleeper that timed out: the counts stay right.  One that answered and
 * has not yet marked itself awake is counted once too often, which costs
 * at most a spurious wake-up.  Returns how many dead sleepers had tag. */
static unsigned repair(mproc_cond *c, int tag)
{
    cond_state *st = cstate(c);
    unsigned asleep = atomic_load(&st->untracked), dead = 0;
    (void)take_all(prim(c, WAIT));
    (void)take_all(prim(c, WOKEN));
    (void)take_all(prim(c, SLEEPING));
    for (size_t i = 0; i < SLOTS; i++) {
        long long pid = atomic_load(&st->slots[i].pid);
        if (pid == 0)
            continue;
        if (!mproc__plat_pid_alive((long)pid)) {
            dead += atomic_load(&st->slots[i].tag) == tag;
            atomic_store(&st->slots[i].pid, 0);
        } else if (atomic_load(&st->slots[i].asleep)) {
            asleep++;
        }
    }
    while (asleep-- > 0)
        mproc__plat_psem_release(prim(c, SLEEPING));
    atomic_store(&st->notifier, 0);
    return dead;
}

enum { SOMEONE_CAN_ANSWER, SLEEPER_DIED, NOBODY_CAN_ANSWER };

/* A notify heard nothing for a slice: why? */
static int sleepers_verdict(mproc_cond *c, int with_tag, int tag)
{
    cond_state *st = cstate(c);
    int asleep = atomic_load(&st->untracked) > 0;
    long long self = mproc__plat_getpid();
    for (size_t i = 0; i < SLOTS; i++) {
        long long pid = atomic_load(&st->slots[i].pid);
        if (pid == 0 || (with_tag && atomic_load(&st->slots[i].tag) != tag))
            continue;
        if (pid != self && !mproc__plat_pid_alive((long)pid))
            return SLEEPER_DIED;
        asleep |= atomic_load(&st->slots[i].asleep);
    }
    return asleep ? SOMEONE_CAN_ANSWER : NOBODY_CAN_ANSWER;
}

/* ---- wait and notify -------------------------------------------------- */

/* mproc_cond_wait with a tag in the sleeper's slot (a barrier marks the
 * parties it counts).  0, ETIMEDOUT, or EBROKEN: the lock came back from a
 * holder that died meanwhile (held all the same). */
static int cond_wait_tagged(mproc_cond *c, double timeout, int tag)
{
    cond_state *st = cstate(c);
    unsigned count;
    int slot, rc, relock;

    /* Counted as a sleeper before the lock goes: a notifier that takes the
     * lock next must see this waiter. */
    slot = claim_slot(c, tag);
    mproc__plat_psem_release(prim(c, SLEEPING));
    count = mproc__lock_release_all(c->lock);
    rc = mproc__plat_psem_acquire(prim(c, WAIT), timeout);
    /* Tell the notifier this sleeper is awake (or gave up); only then stop
     * being one a notifier may wait for. */
    mproc__plat_psem_release(prim(c, WOKEN));
    if (slot >= 0)
        atomic_store(&st->slots[slot].asleep, 0);
    relock = mproc__lock_restore(c->lock, count);
    if (slot >= 0)
        atomic_store(&st->slots[slot].pid, 0);
    else
        atomic_fetch_sub(&st->untracked, 1);
    return relock == MPROC_EBROKEN ? relock : rc;
}

int mproc_cond_wait(mproc_cond *c, double timeout)
{
    int rc;
    if (mproc__timeout(&timeout) != 0)
        return mproc_last_error();

    if (!mproc__is(c, MPROC__T_COND))
        return mproc__error(MPROC_EINVAL);
    if (!mproc__lock_is_mine(c->lock))
        return mproc__errorf(MPROC_ESTATE, "must acquire the condition's lock before waiting");
    rc = cond_wait_tagged(c, timeout, 0);
    if (rc == MPROC_EBROKEN)
        return mproc__errorf(rc, "the condition's lock came back from a holder that died: held again, "
                                 "what it guarded may be inconsistent");
    return rc ? mproc__raise(rc) : 0;
}

int mproc_cond_notify(mproc_cond *c, unsigned n)
{
    cond_state *st;
    unsigned sleepers = 0, answers = 0;

    if (!mproc__is(c, MPROC__T_COND))
        return mproc__error(MPROC_EINVAL);
    if (!mproc__lock_is_mine(c->lock))
        return mproc__errorf(MPROC_ESTATE, "must acquire the condition's lock before notifying");
    st = cstate(c);
    /* Only a notifier holding the lock sets it: one left means it died. */
    if (atomic_load(&st->notifier) != 0)
        (void)repair(c, 0);
    /* Account for sleepers that timed out since the last notify. */
    while (mproc__plat_psem_acquire(prim(c, WOKEN), 0) == 0)
        (void)mproc__plat_psem_acquire(prim(c, SLEEPING), 0);
    while (sleepers < n && mproc__plat_psem_acquire(prim(c, SLEEPING), 0) == 0) {
        mproc__plat_psem_release(prim(c, WAIT));
        sleepers++;
    }
    if (!sleepers)
        return 0;
    /* Wait for each woken sleeper to say so, then take back wake-ups
     * nobody consumed (a sleeper that timed out meanwhile).  A slice of
     * silence means a sleeper may have died: look before waiting on. */
    atomic_store(&st->notifier, mproc__plat_getpid());
    while (answers < sleepers) {
        int verdict;
        if (mproc__plat_psem_acquire(prim(c, WOKEN), MPROC__LIVENESS_SLICE) == 0) {
            answers++;
            continue;
        }
        verdict = sleepers_verdict(c, 0, 0);
        if (verdict == SLEEPER_DIED) {
            (void)repair(c, 0);
            return 0;
        }
        if (verdict == NOBODY_CAN_ANSWER)
            break;
    }
    (void)take_all(prim(c, WAIT));
    atomic_store(&st->notifier, 0);
    return 0;
}

int mproc_cond_notify_all(mproc_cond *c) { return mproc_cond_notify(c, UINT_MAX); }

void mproc_cond_free(mproc_cond *c)
{
    if (!mproc__is(c, MPROC__T_COND))
        return;
    mproc__block_free(&c->b);
    if (c->owns_lock)
        mproc_lock_free(c->lock);
    mproc__obj_clear(&c->obj);
    free(c);
}

/* Waits until pred(state) holds or timeout passes; lock held; sleeps
 * tagged tag.  0, ETIMEDOUT, or EBROKEN (the lock came back from a dead
 * holder).  With watch, the wait goes in slices and also ends (EBROKEN,
 * *dead set) when a sleeper tagged watch died. */
static int wait_for(mproc_cond *c, int (*pred)(void *), void *state, double timeout, int tag, int watch,
                    unsigned *dead)
{
    double deadline = mproc__plat_now() + timeout;
    while (!pred(state)) {
        double left = timeout < 0 ? -1 : deadline - mproc__plat_now();
        int rc;
        if (timeout >= 0 && left <= 0)
            return MPROC_ETIMEDOUT;
        if (watch && (left < 0 || left > MPROC__LIVENESS_SLICE))
            left = MPROC__LIVENESS_SLICE;
        rc = cond_wait_tagged(c, left, tag);
        if (rc == MPROC_EBROKEN)
            return rc;
        if (watch && !pred(state) && sleepers_verdict(c, 1, watch) == SLEEPER_DIED &&
            (*dead = repair(c, watch)) > 0)
            return MPROC_EBROKEN;
        if (!watch && rc == MPROC_ETIMEDOUT && !pred(state))
            return MPROC_ETIMEDOUT;
    }
    return 0;
}

/* Event and Barrier are each a Condition over a block of shared state,
 * exported the same way (pair_export, pair_import). */
typedef struct {
    mproc_cond *cond;
    mproc__block b;
} cond_and_block;

/* ---- Event ----------------------------------------------------------------- */

typedef struct {
    int flag;
    int broken; /* a process died holding the lock: every call fails */
} event_state;

struct mproc_event {
    mproc__obj obj;
    cond_and_block s; /* the condition, and the flag */
};
MPROC__TAG_FIRST(struct mproc_event);

mproc_event *mproc_event_new(mproc_ctx *ctx)
{
    mproc_event *e;
    mproc_lock *lock = NULL; /* ours until the condition owns it */
    int rc = 0;

    if (!mproc__ctx_ok(ctx))
        return mproc__null(MPROC_EINVAL);
    if (!(e = calloc(1, sizeof *e)))
        return mproc__null(MPROC_ENOMEM);
    /* A plain Lock, as CPython's Event: a failed lock_new must not reach
     * cond_new as NULL (that would quietly make an RLock). */
    if (!(lock = mproc_lock_new(NULL)) || !(e->s.cond = mproc_cond_new(ctx, lock))) {
        rc = mproc_last_error();
        goto done;
    }
    e->s.cond->owns_lock = 1;
    mproc__obj_make_inner((mproc__obj *)lock);
    lock = NULL;
    rc = mproc__block_new(&e->s.b, sizeof(event_state), NULL, NULL, NULL, 0);
done:
    if (rc != 0) {
        mproc_cond_free(e->s.cond);
        mproc_lock_free(lock);
        free(e);
        return mproc__raise_null(rc);
    }
    mproc__obj_init(&e->obj, MPROC__T_EVENT);
    return e;
}

static event_state *event_of(mproc_event *e) { return e->s.b.state; }

/* Takes the event's lock: 0, or an error with the lock not held.  A
 * process that died holding it (mid-set, mid-wait) breaks the event. */
static int event_lock(mproc_event *e)
{
    int rc = mproc_lock_acquire(e->s.cond->lock, -1);
    if (rc == MPROC_EBROKEN)
        event_of(e)->broken = 1;
    else if (rc != 0)
        return rc;
    if (event_of(e)->broken) {
        mproc_lock_release(e->s.cond->lock);
        return mproc__errorf(MPROC_EBROKEN, "event broken: a process died while holding its lock");
    }
    return 0;
}

static int flag_set(void *st) { return ((event_state *)st)->flag; }

int mproc_event_set(mproc_event *e)
{
    int rc;
    if (!mproc__is(e, MPROC__T_EVENT))
        return mproc__error(MPROC_EINVAL);
    if ((rc = event_lock(e)) != 0)
        return rc;
    event_of(e)->flag = 1;
    mproc_cond_notify_all(e->s.cond);
    mproc_lock_release(e->s.cond->lock);
    return 0;
}

int mproc_event_clear(mproc_event *e)
{
    int rc;
    if (!mproc__is(e, MPROC__T_EVENT))
        return mproc__error(MPROC_EINVAL);
    if ((rc = event_lock(e)) != 0)
        return rc;
    event_of(e)->flag = 0;
    mproc_lock_release(e->s.cond->lock);
    return 0;
}

int mproc_event_is_set(mproc_event *e)
{
    int v;
    if (!mproc__is(e, MPROC__T_EVENT))
        return mproc__error(MPROC_EINVAL);
    if ((v = event_lock(e)) != 0)
        return v;
    v = event_of(e)->flag;
    mproc_lock_release(e->s.cond->lock);
    return v;
}

int mproc_event_wait(mproc_event *e, double timeout)
{
    int rc;
    if (mproc__timeout(&timeout) != 0)
        return mproc_last_error();
    if (!mproc__is(e, MPROC__T_EVENT))
        return mproc__error(MPROC_EINVAL);
    if ((rc = event_lock(e)) != 0)
        return rc;
    rc = wait_for(e->s.cond, flag_set, event_of(e), timeout, 0, 0, NULL);
    if (rc == MPROC_EBROKEN)
        event_of(e)->broken = 1;
    mproc_lock_release(e->s.cond->lock);
    if (rc == MPROC_EBROKEN)
        return mproc__errorf(rc, "event broken: a process died while holding its lock");
    return rc ? mproc__raise(rc) : 0;
}

int mproc__event_ready(mproc_event *e)
{
    /* A broken event is ready too: the caller's next call on it fails at
     * once instead of waiting for a set that may never come. */
    return mproc_event_is_set(e) != 0;
}

void mproc_event_free(mproc_event *e)
{
    if (!mproc__is(e, MPROC__T_EVENT))
        return;
    mproc_cond_free(e->s.cond);
    mproc__block_free(&e->s.b);
    mproc__obj_clear(&e->obj);
    free(e);
}

/* ---- Barrier (threading.Barrier's algorithm over shared state) ---------- */

enum { FILLING = 0, DRAINING = 1, RESETTING = -1, BROKEN = -2 };
/* The tag of a sleeper the barrier counts in st->count. */
#define PARTY 1

typedef struct {
    int state;
    unsigned count, parties;
} barrier_state;

struct mproc_barrier {
    mproc__obj obj;
    cond_and_block s; /* the condition, and barrier_state */
};
MPROC__TAG_FIRST(struct mproc_barrier);

mproc_barrier *mproc_barrier_new(mproc_ctx *ctx, unsigned parties)
{
    mproc_barrier *br;
    int rc;
    if (!mproc__ctx_ok(ctx) || parties == 0)
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
        return mproc__raise_null(rc);
    }
    ((barrier_state *)br->s.b.state)->parties = parties;
    mproc__obj_init(&br->obj, MPROC__T_BARRIER);
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

/* A party died (in the barrier, or holding its lock): the barrier breaks,
 * and counts only the live parties inside it (the sleepers tagged PARTY,
 * and the caller when counted), so that reset() can still empty it. */
static void barrier_lost_party(mproc_barrier *br, int caller_counted)
{
    barrier_state *st = br->s.b.state;
    cond_state *cs;
    unsigned inside = caller_counted ? 1 : 0;
    (void)repair(br->s.cond, PARTY);
    cs = cstate(br->s.cond);
    for (size_t i = 0; i < SLOTS; i++)
        inside += atomic_load(&cs->slots[i].pid) != 0 && atomic_load(&cs->slots[i].tag) == PARTY;
    st->count = inside;
    barrier_break(br);
}

int mproc_barrier_wait(mproc_barrier *br, double timeout)
{
    barrier_state *st;
    double deadline;
    unsigned index, dead = 0;
    int rc;

    if (mproc__timeout(&timeout) != 0)
        return mproc_last_error();
    deadline = mproc__plat_now() + timeout;
    if (!mproc__is(br, MPROC__T_BARRIER))
        return mproc__error(MPROC_EINVAL);
    st = br->s.b.state;
    rc = mproc_lock_acquire(br->s.cond->lock, -1);
    if (rc != 0 && rc != MPROC_EBROKEN)
        return rc;
    /* A previous cycle still draining or resetting: wait for it, watching
     * its parties. */
    if (rc == MPROC_EBROKEN || wait_for(br->s.cond, not_passing, st, -1, 0, PARTY, &dead) == MPROC_EBROKEN)
        barrier_lost_party(br, 0);
    if (st->state < 0) {
        mproc_lock_release(br->s.cond->lock);
        return mproc__errorf(MPROC_EBROKEN, "barrier broken%s", dead ? ": a party died in it" : "");
    }
    index = st->count++;
    rc = 0;
    if (index + 1 == st->parties) {
        st->state = DRAINING;
        mproc_cond_notify_all(br->s.cond);
    } else {
        double left = timeout < 0 ? -1 : deadline - mproc__plat_now();
        rc = wait_for(br->s.cond, not_filling, st, left < 0 && timeout >= 0 ? 0 : left, PARTY, PARTY, &dead);
        if (rc == MPROC_ETIMEDOUT) {
            barrier_break(br);
        } else if (rc == MPROC_EBROKEN) {
            barrier_lost_party(br, 1);
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
    if (rc == MPROC_EBROKEN && dead)
        return mproc__errorf(rc, "barrier broken: a party died in it");
    return rc ? mproc__raise(rc) : (int)index;
}

/* Takes the barrier's lock for abort and reset; a holder that died breaks
 * the barrier first. */
static int barrier_lock(mproc_barrier *br)
{
    int rc = mproc_lock_acquire(br->s.cond->lock, -1);
    if (rc == MPROC_EBROKEN)
        barrier_lost_party(br, 0);
    return rc == MPROC_EBROKEN ? 0 : rc;
}

int mproc_barrier_abort(mproc_barrier *br)
{
    int rc;
    if (!mproc__is(br, MPROC__T_BARRIER))
        return mproc__error(MPROC_EINVAL);
    if ((rc = barrier_lock(br)) != 0)
        return rc;
    barrier_break(br);
    mproc_lock_release(br->s.cond->lock);
    return 0;
}

int mproc_barrier_reset(mproc_barrier *br)
{
    barrier_state *st;
    int rc;
    if (!mproc__is(br, MPROC__T_BARRIER))
        return mproc__error(MPROC_EINVAL);
    st = br->s.b.state;
    if ((rc = barrier_lock(br)) != 0)
        return rc;
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

/* Live sleepers that are in their wait: a sleeper takes its slot with the
 * lock held and lets the lock go only once it is counted, so a slot seen
 * after taking the lock is one a notify will find. */
unsigned mproc__cond_sleepers(mproc_cond *c)
{
    unsigned n = 0;
    int rc = mproc_lock_acquire(c->lock, -1);
    for (size_t i = 0; i < SLOTS; i++) {
        long long pid = atomic_load(&cstate(c)->slots[i].pid);
        n += pid != 0 && mproc__plat_pid_alive((long)pid);
    }
    if (rc == 0 || rc == MPROC_EBROKEN)
        mproc_lock_release(c->lock);
    return n;
}

unsigned mproc__event_sleepers(mproc_event *e) { return mproc__cond_sleepers(e->s.cond); }

unsigned mproc__barrier_inside(mproc_barrier *br)
{
    unsigned n;
    mproc_lock_acquire(br->s.cond->lock, -1);
    n = ((barrier_state *)br->s.b.state)->count;
    mproc_lock_release(br->s.cond->lock);
    return n;
}

void mproc_barrier_free(mproc_barrier *br)
{
    if (!mproc__is(br, MPROC__T_BARRIER))
        return;
    mproc_cond_free(br->s.cond);
    mproc__block_free(&br->s.b);
    mproc__obj_clear(&br->obj);
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

static int pair_export(cond_and_block *x, mproc__buf *b, mproc__handle *hs, size_t *n, size_t cap)
{
    int rc = mproc__export_nested(&mproc__cond_type, x->cond, b, hs, n, cap);
    return rc ? rc : mproc__block_export(&x->b, b, hs, n, cap);
}

/* Fills x; takes the n handles either way.  0 or MPROC_EBROKEN. */
static int pair_import(cond_and_block *x, mproc__reader *r, const mproc__handle *hs, size_t n)
{
    size_t used = 0;
    if (!(x->cond = mproc__import_nested(&mproc__cond_type, r, hs, n, &used))) {
        mproc__close_handles(hs + used, n - used);
        return MPROC_EBROKEN;
    }
    if (mproc__block_import(&x->b, r, hs + used, n - used) != 0) {
        mproc_cond_free(x->cond);
        return MPROC_EBROKEN;
    }
    return 0;
}

static int event_export(void *obj, mproc__buf *b, mproc__handle *hs, size_t *n, size_t cap)
{
    return pair_export(&((mproc_event *)obj)->s, b, hs, n, cap);
}

static void *event_import(mproc__reader *r, const mproc__handle *hs, size_t n)
{
    mproc_event *e = calloc(1, sizeof *e);
    int rc;
    if (!e) {
        mproc__close_handles(hs, n);
        return mproc__null(MPROC_ENOMEM);
    }
    if ((rc = pair_import(&e->s, r, hs, n)) != 0) {
        free(e);
        return mproc__null(rc);
    }
    mproc__obj_init(&e->obj, MPROC__T_EVENT);
    return e;
}

static int barrier_export(void *obj, mproc__buf *b, mproc__handle *hs, size_t *n, size_t cap)
{
    return pair_export(&((mproc_barrier *)obj)->s, b, hs, n, cap);
}

static void *barrier_import(mproc__reader *r, const mproc__handle *hs, size_t n)
{
    mproc_barrier *br = calloc(1, sizeof *br);
    int rc;
    if (!br) {
        mproc__close_handles(hs, n);
        return mproc__null(MPROC_ENOMEM);
    }
    if ((rc = pair_import(&br->s, r, hs, n)) != 0) {
        free(br);
        return mproc__null(rc);
    }
    mproc__obj_init(&br->obj, MPROC__T_BARRIER);
    return br;
}

static void event_release(void *obj) { mproc_event_free(obj); }
static void barrier_release(void *obj) { mproc_barrier_free(obj); }

const mproc__objtype mproc__cond_type = {cond_export, cond_import, cond_release};
const mproc__objtype mproc__event_type = {event_export, event_import, event_release};
const mproc__objtype mproc__barrier_type = {barrier_export, barrier_import, barrier_release};
