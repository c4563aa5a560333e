/*
 * Lock, RLock, Semaphore and BoundedSemaphore, as CPython's synchronize.py
 * builds them on SemLock: a process-shared semaphore, plus the owner and
 * recursion count in shared memory.  A Lock may be released by another
 * process (as in CPython); an RLock only by its owner.  Unlike CPython's,
 * a Lock or RLock whose holder died does not hang its waiters: see
 * take_from_the_dead().
 * Semaphores have no owner and keep CPython's semantics: a unit taken by a
 * process that died is lost.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "internal.h"
#include "sync_local.h"

#define SEM_VALUE_MAX 0x7fffffffu /* Windows semaphores count in a LONG */

/* Read by any thread asking "is it mine?" while the holder writes it:
 * atomics (lock-free, so they work in memory shared between processes).
 * Relaxed order suffices: only the holder ever writes its own identity. */
typedef struct {
    atomic_uint word; /* a Lock's own state: FREE, HELD or CONTENDED */
    atomic_llong owner_pid;
    atomic_ullong owner_thread;
    atomic_uint count;
} lock_state;

/* A Lock is a word in shared memory taken and given back with one atomic
 * instruction each, as a futex mutex is (Drepper's "Futexes are tricky",
 * mutex 2), with the semaphore only to sleep on: CONTENDED says someone
 * may sleep, so its release posts one wake-up.  A wake-up is a hint, not
 * the lock: the woken waiter takes the word again, and a spare one (its
 * waiter timed out, or took the word without sleeping) costs one spurious
 * wake, never a second holder.  Unlike a mutex, any thread or process may
 * release it (CPython's Lock). */
enum { FREE, HELD, CONTENDED };

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)
#define STORE(x, v) atomic_store_explicit(&(x), (v), memory_order_relaxed)

struct mproc_lock {
    mproc__obj obj;
    mproc__block b;
    int recursive;
    mproc__llock *local; /* the thread context's: all of it lives there (core/sync_local.c) */
};
MPROC__TAG_FIRST(struct mproc_lock);

struct mproc_sem {
    mproc__obj obj;
    mproc__block b;
};
MPROC__TAG_FIRST(struct mproc_sem);

static lock_state *state_of(mproc_lock *l) { return l->b.state; }

static mproc_lock *lock_create(int recursive)
{
    static const int kinds[] = {MPROC__PRIM_SEM};
    static const unsigned none[] = {0}, most[] = {SEM_VALUE_MAX}; /* wake-ups */
    mproc_lock *l = calloc(1, sizeof *l);
    int rc;
    if (!l)
        return mproc__null(MPROC_ENOMEM);
    if ((rc = mproc__block_new(&l->b, sizeof(lock_state), kinds, none, most, 1)) != 0) {
        free(l);
        return mproc__raise_null(rc);
    }
    mproc__obj_init(&l->obj, MPROC__T_LOCK);
    l->recursive = recursive;
    return l;
}

/* The thread context's Lock or RLock: no block, the rest in l->local. */
static mproc_lock *local_lock_create(int recursive)
{
    mproc_lock *l = calloc(1, sizeof *l);
    if (!l)
        return mproc__null(MPROC_ENOMEM);
    if (!(l->local = mproc__llock_new(recursive))) {
        free(l);
        return NULL;
    }
    mproc__obj_init(&l->obj, MPROC__T_LOCK);
    l->recursive = recursive;
    return l;
}

mproc_lock *mproc_lock_new(mproc_ctx *ctx)
{
    if (!mproc__ctx_ok(ctx))
        return mproc__null(MPROC_EINVAL);
    return mproc__ctx_method(ctx) == MPROC_THREAD ? local_lock_create(0) : lock_create(0);
}

mproc_lock *mproc_rlock_new(mproc_ctx *ctx)
{
    if (!mproc__ctx_ok(ctx))
        return mproc__null(MPROC_EINVAL);
    return mproc__ctx_method(ctx) == MPROC_THREAD ? local_lock_create(1) : lock_create(1);
}

int mproc__lock_in_process(const mproc_lock *l) { return l && l->local; }

int mproc__lock_is_mine(mproc_lock *l)
{
    lock_state *st = state_of(l);
    if (l->local)
        return mproc__llock_is_mine(l->local);
    return LOAD(st->count) > 0 && LOAD(st->owner_pid) == mproc__plat_getpid() &&
           LOAD(st->owner_thread) == mproc__thread_id();
}

/* A semaphore has no owner, so a holder that died keeps its unit for
 * ever: while a waiter waits, the holder recorded in the shared state is
 * looked at (at the first failure and every MPROC__LIVENESS_SLICE seconds
 * after), and the first waiter to find it dead takes its place (a
 * compare-and-swap on the pid, so only one does) and holds the lock:
 * MPROC_EBROKEN, as POSIX's EOWNERDEAD.  A holder killed in the few
 * instructions between taking the semaphore and recording itself (or
 * between clearing itself and giving it back) cannot be found this way. */
static int take_from_the_dead(void *ud)
{
    lock_state *st = ud;
    long long self = mproc__plat_getpid(), holder = atomic_load(&st->owner_pid);
    if (holder != 0 && holder != self && !mproc__plat_pid_alive((long)holder) &&
        atomic_compare_exchange_strong(&st->owner_pid, &holder, self))
        return MPROC_EBROKEN;
    return 0;
}

/* Takes the word: 0, MPROC_EBROKEN (taken from a dead holder: held),
 * MPROC_ETIMEDOUT. */
static int take_word(mproc_lock *l, lock_state *st, double timeout)
{
    unsigned expect = FREE;
    double deadline = 0;
    if (atomic_compare_exchange_strong(&st->word, &expect, HELD))
        return 0;
    if (timeout > 0)
        deadline = mproc__plat_now() + timeout;
    for (;;) {
        int rc;
        /* CONTENDED, not HELD: whoever gets it cannot tell whether others
         * sleep, so its release wakes one (at worst for nothing). */
        if (atomic_exchange(&st->word, CONTENDED) == FREE)
            return 0;
        rc = mproc__psem_acquire_watching(&l->b.prims[0], timeout, take_from_the_dead, st);
        if (rc != 0)
            return rc;
        if (timeout > 0 && (timeout = deadline - mproc__plat_now()) <= 0)
            timeout = 0; /* one last try, then the wait says ETIMEDOUT */
    }
}

int mproc_lock_acquire(mproc_lock *l, double timeout)
{
    lock_state *st;
    int rc;
    if (mproc__timeout(&timeout) != 0)
        return mproc_last_error();
    if (!mproc__is(l, MPROC__T_LOCK))
        return mproc__error(MPROC_EINVAL);
    if (l->local)
        return mproc__llock_acquire(l->local, timeout);
    st = state_of(l);
    if (l->recursive && mproc__lock_is_mine(l)) {
        STORE(st->count, LOAD(st->count) + 1);
        return 0;
    }
    rc = take_word(l, st, timeout);
    if (rc != 0 && rc != MPROC_EBROKEN)
        return mproc__raise(rc);
    STORE(st->owner_pid, mproc__plat_getpid());
    STORE(st->owner_thread, mproc__thread_id());
    STORE(st->count, 1);
    if (rc == MPROC_EBROKEN)
        return mproc__errorf(rc, "the lock's holder died holding it: the caller holds it now; "
                                 "make what it guarded consistent, then release it");
    return 0;
}

int mproc_lock_release(mproc_lock *l)
{
    lock_state *st;
    int rc;
    if (!mproc__is(l, MPROC__T_LOCK))
        return mproc__error(MPROC_EINVAL);
    if (l->local)
        return mproc__llock_release(l->local);
    st = state_of(l);
    if (l->recursive) {
        if (!mproc__lock_is_mine(l))
            return mproc__errorf(MPROC_ESTATE, "cannot release an RLock this thread does not hold");
        if (LOAD(st->count) > 1) {
            STORE(st->count, LOAD(st->count) - 1);
            return 0;
        }
    }
    if (atomic_load(&st->word) == FREE)
        return mproc__errorf(MPROC_ESTATE, "cannot release an unlocked Lock");
    STORE(st->owner_pid, 0);
    STORE(st->owner_thread, 0);
    STORE(st->count, 0);
    switch (atomic_exchange(&st->word, FREE)) {
    case FREE: /* a racing release of the same hold won */
        return mproc__errorf(MPROC_ESTATE, "cannot release an unlocked Lock");
    case HELD:
        return 0;
    default:
        break;
    }
    rc = mproc__plat_psem_post(&l->b.prims[0]);
    return rc && rc != MPROC_ESTATE ? mproc__raise(rc) : 0; /* ESTATE: wake-ups enough */
}

/* Condition support: give the lock up entirely, and take it back. */
unsigned mproc__lock_release_all(mproc_lock *l)
{
    unsigned count;
    if (l->local)
        return mproc__llock_release_all(l->local);
    count = LOAD(state_of(l)->count);
    STORE(state_of(l)->count, 1);
    mproc_lock_release(l);
    return count;
}

int mproc__lock_restore(mproc_lock *l, unsigned count)
{
    int rc;
    if (l->local)
        return mproc__llock_restore(l->local, count);
    rc = mproc_lock_acquire(l, -1);
    STORE(state_of(l)->count, count);
    return rc;
}

void mproc_lock_free(mproc_lock *l)
{
    if (!mproc__is(l, MPROC__T_LOCK))
        return;
    mproc__llock_free(l->local);
    if (!l->local)
        mproc__block_free(&l->b);
    mproc__obj_clear(&l->obj);
    free(l);
}

static mproc_sem *sem_create(unsigned value, unsigned max)
{
    static const int kinds[] = {MPROC__PRIM_SEM};
    mproc_sem *s;
    int rc;
    if (value > SEM_VALUE_MAX)
        return mproc__null(MPROC_EINVAL);
    if (!(s = calloc(1, sizeof *s)))
        return mproc__null(MPROC_ENOMEM);
    if ((rc = mproc__block_new(&s->b, 0, kinds, &value, &max, 1)) != 0) {
        free(s);
        return mproc__raise_null(rc);
    }
    mproc__obj_init(&s->obj, MPROC__T_SEM);
    return s;
}

/* ctx is only checked: the thread context's semaphores are the shared ones. */
mproc_sem *mproc_sem_new(mproc_ctx *ctx, unsigned value)
{
    return mproc__ctx_ok(ctx) ? sem_create(value, SEM_VALUE_MAX) : mproc__null(MPROC_EINVAL);
}

mproc_sem *mproc_bounded_sem_new(mproc_ctx *ctx, unsigned value)
{
    return mproc__ctx_ok(ctx) ? sem_create(value, value) : mproc__null(MPROC_EINVAL);
}

int mproc_sem_acquire(mproc_sem *s, double timeout)
{
    int rc;
    if (mproc__timeout(&timeout) != 0)
        return mproc_last_error();
    if (!mproc__is(s, MPROC__T_SEM))
        return mproc__error(MPROC_EINVAL);
    rc = mproc__plat_psem_acquire(&s->b.prims[0], timeout);
    return rc ? mproc__raise(rc) : 0;
}

int mproc_sem_release(mproc_sem *s)
{
    int rc;
    if (!mproc__is(s, MPROC__T_SEM))
        return mproc__error(MPROC_EINVAL);
    rc = mproc__plat_psem_release(&s->b.prims[0]);
    if (rc == MPROC_ESTATE)
        return mproc__errorf(rc, "semaphore released too many times");
    return rc ? mproc__raise(rc) : 0;
}

void mproc_sem_free(mproc_sem *s)
{
    if (!mproc__is(s, MPROC__T_SEM))
        return;
    mproc__block_free(&s->b);
    mproc__obj_clear(&s->obj);
    free(s);
}

/* ---- passing to children ------------------------------------------------ */

static int lock_export(void *obj, mproc__buf *b, mproc__handle *hs, size_t *n, size_t cap)
{
    mproc_lock *l = obj;
    if (l->local)
        return mproc__llock_refuse_export();
    mproc__buf_u8(b, (uint8_t)l->recursive);
    return mproc__block_export(&l->b, b, hs, n, cap);
}

static void *lock_import(mproc__reader *r, const mproc__handle *hs, size_t n)
{
    mproc_lock *l = calloc(1, sizeof *l);
    int rc;
    if (!l) {
        mproc__close_handles(hs, n);
        return mproc__null(MPROC_ENOMEM);
    }
    l->recursive = mproc__rd_u8(r) != 0;
    if ((rc = mproc__block_import(&l->b, r, hs, n)) != 0) {
        free(l);
        return mproc__raise_null(rc);
    }
    mproc__obj_init(&l->obj, MPROC__T_LOCK);
    return l;
}

static void lock_release_obj(void *obj) { mproc_lock_free(obj); }

static int sem_export(void *obj, mproc__buf *b, mproc__handle *hs, size_t *n, size_t cap)
{
    return mproc__block_export(&((mproc_sem *)obj)->b, b, hs, n, cap);
}

static void *sem_import(mproc__reader *r, const mproc__handle *hs, size_t n)
{
    mproc_sem *s = calloc(1, sizeof *s);
    int rc;
    if (!s) {
        mproc__close_handles(hs, n);
        return mproc__null(MPROC_ENOMEM);
    }
    if ((rc = mproc__block_import(&s->b, r, hs, n)) != 0) {
        free(s);
        return mproc__raise_null(rc);
    }
    mproc__obj_init(&s->obj, MPROC__T_SEM);
    return s;
}

static void sem_release_obj(void *obj) { mproc_sem_free(obj); }

const mproc__objtype mproc__lock_type = {lock_export, lock_import, lock_release_obj};
const mproc__objtype mproc__sem_type = {sem_export, sem_import, sem_release_obj};
