/*
 * The one timeout rule every blocking call follows, applied once at the
 * public entry so that nothing below ever sees NaN, an infinity or a value
 * whose conversion to integer nanoseconds or milliseconds would overflow
 * (undefined behaviour, and in practice a deadline in the past: a busy spin).
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
