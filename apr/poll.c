/*
 * mproc_apr_pollfd: an mproc object in an apr_pollset, by the descriptor
 * mproc_object_fd gives, wrapped in an apr_file_t that does not own it.
 */
#include <apr_file_io.h>
#include <apr_portable.h>

#include "mproc_apr.h"

apr_status_t mproc_apr_pollfd(apr_pool_t *pool, void *object, apr_pollfd_t *out)
{
    intptr_t fd;
    apr_os_file_t osf;
    apr_file_t *file = NULL;
    apr_status_t st;
    int rc;

    if (!pool || !out || mproc_object_type(object) == MPROC_TYPE_NONE)
        return APR_EINVAL;
    if ((rc = mproc_object_fd(object, &fd)) != 0)
        return mproc_apr_status(rc);
    osf = (apr_os_file_t)fd;
    /* apr_os_file_put registers no cleanup: the descriptor is never closed
     * by APR, it stays object's. */
    if ((st = apr_os_file_put(&file, &osf, APR_FOPEN_READ, pool)) != APR_SUCCESS)
        return st;
    out->p = pool;
    out->desc_type = APR_POLL_FILE;
    out->reqevents = APR_POLLIN;
    out->rtnevents = 0;
    out->desc.f = file;
    out->client_data = object;
    return APR_SUCCESS;
}
