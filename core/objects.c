/*
 * The kinds of objects that can be handed to a child in mproc_args, by
 * MPROC__OBJ_* (core/args.c looks them up here): how each crosses into a
 * child, which tag an object of each kind carries, and which objects
 * cannot leave their process at all.
 */
#include "internal.h"

extern const mproc__objtype mproc__shm_type, mproc__lock_type, mproc__sem_type, mproc__cond_type,
    mproc__event_type, mproc__barrier_type, mproc__conn_type, mproc__queue_type;

const mproc__objtype *const mproc__objtypes[MPROC__OBJ_COUNT] = {
    [MPROC__OBJ_SHM] = &mproc__shm_type,     [MPROC__OBJ_LOCK] = &mproc__lock_type,
    [MPROC__OBJ_SEM] = &mproc__sem_type,     [MPROC__OBJ_COND] = &mproc__cond_type,
    [MPROC__OBJ_EVENT] = &mproc__event_type, [MPROC__OBJ_BARRIER] = &mproc__barrier_type,
    [MPROC__OBJ_CONN] = &mproc__conn_type,   [MPROC__OBJ_QUEUE] = &mproc__queue_type,
};

int mproc__object_is(int kind, const void *obj)
{
    static const uint32_t tags[MPROC__OBJ_COUNT] = {
        [MPROC__OBJ_SHM] = MPROC__T_SHM,     [MPROC__OBJ_LOCK] = MPROC__T_LOCK,
        [MPROC__OBJ_SEM] = MPROC__T_SEM,     [MPROC__OBJ_COND] = MPROC__T_COND,
        [MPROC__OBJ_EVENT] = MPROC__T_EVENT, [MPROC__OBJ_BARRIER] = MPROC__T_BARRIER,
        [MPROC__OBJ_CONN] = MPROC__T_CONN,   [MPROC__OBJ_QUEUE] = MPROC__T_QUEUE,
    };
    if (kind == MPROC__OBJ_QUEUE)
        return mproc__is_queue(obj);
    return kind > 0 && kind < MPROC__OBJ_COUNT && mproc__is(obj, tags[kind]);
}

const char *mproc__object_in_process(int kind, void *obj)
{
    switch (kind) {
    case MPROC__OBJ_QUEUE: return mproc__is(obj, MPROC__T_QUEUE_LOCAL) ? "a queue of the thread context" : NULL;
    case MPROC__OBJ_LOCK: return mproc__lock_in_process(obj) ? "a lock of the thread context" : NULL;
    case MPROC__OBJ_COND:
        return mproc__lock_in_process(mproc_cond_lock(obj))
                   ? "a condition whose lock is the thread context's"
                   : NULL;
    default: return NULL;
    }
}
