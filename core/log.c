/* The log hook: the library never prints; it tells the user's handler.
 * Also the errors that come with a message (mproc__errorf). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define MSG_MAX MPROC__DETAIL_MAX
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
    char msg[MPROC__DETAIL_MAX - 64], line[MPROC__DETAIL_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(line, sizeof line, "%s: %s", mproc_strerror(code), msg);
    mproc__log(MPROC_LOG_ERROR, "%s", line);
    return mproc__error_detail(code, line);
}

/* ---- mproc_log_to_stderr ------------------------------------------------ */

static const char *level_name(int level)
{
    if (level >= MPROC_LOG_ERROR)
        return "ERROR";
    if (level >= MPROC_LOG_WARNING)
        return "WARNING";
    if (level >= MPROC_LOG_INFO)
        return "INFO";
    return "DEBUG";
}

/* The threshold travels as the hook's ud: a number, not a pointer to one. */
static void to_stderr(int level, const char *msg, void *ud)
{
    char name[MPROC__NAME_MAX], line[MSG_MAX + MPROC__NAME_MAX + 48];
    int n;
    if (level < (int)(intptr_t)ud)
        return;
    mproc__current_name(name, sizeof name);
    /* The whole line in one fwrite to the unbuffered stderr: one write, so
     * the lines of processes sharing the terminal do not interleave. */
    n = snprintf(line, sizeof line, "[%s/%s %ld] %s\n", level_name(level), name, mproc__plat_getpid(), msg);
    if (n > 0)
        fwrite(line, 1, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1, stderr);
}

void mproc_log_to_stderr(int level) { mproc_set_log_handler(to_stderr, (void *)(intptr_t)level); }

void mproc__log_hold(void) { hold_depth++; }

void mproc__log_release(void)
{
    if (--hold_depth > 0)
        return;
    for (int i = 0; i < held_count; i++)
        deliver(held_level[i], held_msg[i]);
    held_count = 0;
}
