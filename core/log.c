/* The log hook: the library never prints; it tells the user's handler. */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

static mproc_log_fn log_fn;
static void *log_ud;

void mproc_set_log_handler(mproc_log_fn fn, void *ud)
{
    mproc__plat_global_lock();
    log_fn = fn;
    log_ud = ud;
    mproc__plat_global_unlock();
}

void mproc__log(int level, const char *fmt, ...)
{
    mproc_log_fn fn;
    void *ud;
    char msg[768];
    va_list ap;

    mproc__plat_global_lock();
    fn = log_fn;
    ud = log_ud;
    mproc__plat_global_unlock();
    if (!fn)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fn(level, msg, ud);
}
