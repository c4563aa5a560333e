/*
 * mproc_apr_own: an apr_pool_t owns mproc objects.  The pool's cleanup
 * frees the object; the object's free hook (mproc_object_on_free) removes
 * that cleanup when the object is freed first, by hand.
 */
#include "mproc_apr.h"

/* The pool's cleanup: the hook is removed first, so that the free does
 * not come back here to kill the cleanup APR is running. */
static apr_status_t release(void *object)
{
    (void)mproc_object_on_free(object, NULL, NULL);
    mproc_object_free(object);
    return APR_SUCCESS;
}

/* The object's free hook: freed by hand, it leaves the pool's cleanups. */
static void forget(void *object, void *pool)
{
    apr_pool_cleanup_kill(pool, object, release);
}

apr_status_t mproc_apr_own(apr_pool_t *pool, void *object)
{
    int rc;
    if (!pool || mproc_object_type(object) == MPROC_TYPE_NONE)
        return APR_EINVAL;
    if ((rc = mproc_object_on_free(object, forget, pool)) != 0)
        return mproc_apr_status(rc);
    /* Before an exec (apr_proc_create's child, apr_pool_cleanup_for_exec):
     * nothing, mproc's descriptors are close-on-exec and the exec drops
     * the rest.  After apr_proc_fork the child's plain cleanup is release:
     * each free call releases only the child's own copy there. */
    apr_pool_cleanup_register(pool, object, release, apr_pool_cleanup_null);
    return APR_SUCCESS;
}
