/*
 * apr_status_t for mproc's codes, and their sentences.
 */
#include <string.h>

#include "mproc_apr.h"

apr_status_t mproc_apr_status(int code)
{
    switch (code) {
    case MPROC_ETIMEDOUT: return APR_TIMEUP;
    case MPROC_EEMPTY:
    case MPROC_EFULL: return APR_EAGAIN;
    case MPROC_ECLOSED: return APR_EOF;
    case MPROC_ENOTSUP: return APR_ENOTIMPL;
    case MPROC_EINVAL: return APR_EINVAL;
    case MPROC_ENOMEM: return APR_ENOMEM;
    case MPROC_ESYS: {
        int os = (int)mproc_last_os_error(); /* an errno or a Windows error code */
        if (os != 0)
            return APR_FROM_OS_ERROR(os);
        break;
    }
    default: break;
    }
    if (code >= 0)
        return APR_SUCCESS;
    if (code <= -100)
        return APR_EGENERAL; /* no code is that far down; never out of mproc's range */
    return MPROC_APR_START_ERROR - code;
}

int mproc_apr_code(apr_status_t status)
{
    return MPROC_APR_IS_ERROR(status) ? (int)(MPROC_APR_START_ERROR - status) : 0;
}

char *mproc_apr_strerror(apr_status_t status, char *buf, apr_size_t bufsize)
{
    const char *s;
    size_t n;
    if (!MPROC_APR_IS_ERROR(status))
        return apr_strerror(status, buf, bufsize);
    if (!buf || bufsize == 0)
        return buf;
    s = mproc_strerror(mproc_apr_code(status));
    n = strlen(s);
    if (n >= bufsize)
        n = bufsize - 1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return buf;
}
