/*
 * Calls on an object of any type (include/mproc.h, "Objects of any
 * type"): its type from its tag, its free call, a hook run when it is
 * freed (core/object.h runs it), and the descriptor a poll loop of the
 * caller's own waits on.
 */
#include "internal.h"

static const struct {
    uint32_t tag;
    mproc_type type;
} types[] = {
    {MPROC__T_PROCESS, MPROC_TYPE_PROCESS}, {MPROC__T_QUEUE, MPROC_TYPE_QUEUE},
    {MPROC__T_QUEUE_LOCAL, MPROC_TYPE_QUEUE}, {MPROC__T_CONN, MPROC_TYPE_CONN},
    {MPROC__T_SHM, MPROC_TYPE_SHM},         {MPROC__T_LOCK, MPROC_TYPE_LOCK},
    {MPROC__T_SEM, MPROC_TYPE_SEM},         {MPROC__T_EVENT, MPROC_TYPE_EVENT},
    {MPROC__T_COND, MPROC_TYPE_COND},       {MPROC__T_BARRIER, MPROC_TYPE_BARRIER},
    {MPROC__T_POOL, MPROC_TYPE_POOL},       {MPROC__T_RESULT, MPROC_TYPE_RESULT},
    {MPROC__T_ARGS, MPROC_TYPE_ARGS},
};

mproc_type mproc_object_type(const void *object)
{
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (mproc__is(object, types[i].tag))
            return types[i].type;
    return MPROC_TYPE_NONE;
}

void mproc_object_free(void *object)
{
    mproc_type type = mproc_object_type(object);
    if (type != MPROC_TYPE_NONE && ((mproc__obj *)object)->inner)
        return; /* its container frees it */
    switch (type) {
    case MPROC_TYPE_PROCESS: mproc_process_free(object); break;
    case MPROC_TYPE_QUEUE: mproc_queue_free(object); break;
    case MPROC_TYPE_CONN: mproc_conn_close(object); break;
    case MPROC_TYPE_SHM: mproc_shm_free(object); break;
    case MPROC_TYPE_LOCK: mproc_lock_free(object); break;
    case MPROC_TYPE_SEM: mproc_sem_free(object); break;
    case MPROC_TYPE_EVENT: mproc_event_free(object); break;
    case MPROC_TYPE_COND: mproc_cond_free(object); break;
    case MPROC_TYPE_BARRIER: mproc_barrier_free(object); break;
    case MPROC_TYPE_POOL: mproc_pool_free(object); break;
    case MPROC_TYPE_RESULT: mproc_result_free(object); break;
    case MPROC_TYPE_ARGS: mproc_args_free(object); break;
    case MPROC_TYPE_NONE: break;
    }
}

int mproc_object_on_free(void *object, mproc_free_hook hook, void *arg)
{
    mproc__obj *o = object;
    if (mproc_object_type(object) == MPROC_TYPE_NONE)
        return mproc__error(MPROC_EINVAL);
    if (hook && o->inner)
        return mproc__errorf(MPROC_ESTATE, "the object belongs to another one, which frees it (a condition's own "
                                           "lock, args given to a process, what a child got in its args)");
    if (hook && o->on_free)
        return mproc__errorf(MPROC_EEXIST, "the object already has a free hook");
    o->on_free = hook;
    o->on_free_arg = hook ? arg : NULL;
    return 0;
}

int mproc_object_fd(void *object, intptr_t *fd)
{
    mproc__handle h;
    mproc_type type = mproc_object_type(object);
    int rc;

    if (type == MPROC_TYPE_NONE || !fd)
        return mproc__error(MPROC_EINVAL);
    switch (type) {
    case MPROC_TYPE_PROCESS:
        if (!mproc__plat_handles_are_fds())
            break;
        return mproc_process_sentinel(object, fd);
    case MPROC_TYPE_CONN:
        if (!mproc__plat_handles_are_fds())
            break;
        if ((h = mproc__conn_sentinel(object)) == MPROC__NO_HANDLE)
            return mproc__errorf(MPROC_ESTATE, "a send-only connection is never ready to receive");
        *fd = (intptr_t)h;
        return 0;
    case MPROC_TYPE_QUEUE:
        if (!mproc__plat_handles_are_fds() || mproc__is(object, MPROC__T_QUEUE_LOCAL))
            break;
        if ((rc = mproc__queue_read_one_at_a_time(object)) != 0)
            return mproc__raise(rc);
        *fd = (intptr_t)mproc__queue_wait_handle(object);
        return 0;
    default: break;
    }
    return mproc__errorf(MPROC_ENOTSUP, "%s has no descriptor a poll loop can wait on here: use mproc_wait",
                         type == MPROC_TYPE_QUEUE ? "a thread context's queue" : "this object");
}
