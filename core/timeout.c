/*
 * The one timeout rule every blocking call follows, applied once at the
 * public entry so that nothing below ever sees NaN, an infinity or a value
 * whose conversion to integer nanoseconds or milliseconds would overflow
 * (undefined behaviour, and in practice a deadline in the past: a busy spin);
 * and the one way a wait on a semaphore watches for a dead peer.
 */
#include <math.h>

#include "internal.h"

int mproc__timeout(double *timeout)
{
    double t = *timeout;
    if (isnan(t))
        return mproc__errorf(MPROC_EINVAL, "a timeout may not be NaN");
    /* Negative (-inf included) means forever, as the API says; so does
     * anything beyond a billion seconds (31 years), +inf included. */
    if (t < 0 || t > MPROC__TIMEOUT_FOREVER)
        *timeout = -1;
    return 0;
}

int mproc__psem_acquire_watching(mproc__psync *s, double timeout, int (*look)(void *ud), void *ud)
{
    double deadline;
    /* The uncontended case first: no clock read. */
    int rc = mproc__plat_psem_acquire(s, 0);
    if (rc != MPROC_ETIMEDOUT || (rc = look(ud)) != 0)
        return rc;
    if (timeout == 0)
        return MPROC_ETIMEDOUT;
    deadline = mproc__plat_now() + timeout;
    for (;;) {
        double slice = MPROC__LIVENESS_SLICE;
        if (timeout > 0) {
            double left = deadline - mproc__plat_now();
            if (left <= 0)
                return MPROC_ETIMEDOUT;
            slice = left < slice ? left : slice;
        }
        rc = mproc__plat_psem_acquire(s, slice);
        if (rc != MPROC_ETIMEDOUT || (rc = look(ud)) != 0)
            return rc;
    }
}
