/* The log hook: the library never prints; it tells the user's handler.
 * Also the errors that come with a message (mproc__errorf). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define MSG_MAX 512
#define HELD_MAX 2 /* messages kept while a lock is held; later ones dropped */

static mproc_log_fn log_fn;
static void *log_ud;

/* This thread's messages logged under a library lock (mproc__log_hold). */
static MPROC_TLS int hold_depth;
static MPROC_TLS int held_count;
static MPROC_TLS int held_level[HELD_MAX];
static MPROC_TLS char held_msg[HELD_MAX][MSG_MAX];

void mproc_set_log_handler(mproc_log_fn fn, void *ud)
{
    mproc__plat_global_lock();
    log_fn = fn;
    log_ud = ud;
    mproc__plat_global_unlock();
}

static void deliver(int level, const char *msg)
{
    mproc_log_fn fn;
    void *ud;
    mproc__plat_global_lock();
    fn = log_fn;
    ud = log_ud;
    mproc__plat_global_unlock();
    if (fn)
        fn(level, msg, ud);
}

void mproc__log(int level, const char *fmt, ...)
{
    char msg[MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (hold_depth > 0) {
        if (held_count < HELD_MAX) {
            held_level[held_count] = level;
            memcpy(held_msg[held_count], msg, sizeof msg);
            held_count++;
        }
        return;
    }
    deliver(level, msg);
}

int mproc__errorf(int code, const char *fmt, ...)
{
    char msg[MSG_MAX - 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mproc__log(MPROC_LOG_ERROR, "%s: %s", mproc_strerror(code), msg);
    return mproc__error(code);
}

void mproc__log_hold(void) { hold_depth++; }

void mproc__log_release(void)
{
    if (--hold_depth > 0)
        return;
    for (int i = 0; i < held_count; i++)
        deliver(held_level[i], held_msg[i]);
    held_count = 0;
}
