/*
 * Start methods and contexts, as CPython's multiprocessing/context.py: one
 * static context per method, a default context whose method is fixed on
 * first use or by mproc_set_start_method, and the per-OS default table.
 */
#include <string.h>

#include "internal.h"

struct mproc_ctx {
    mproc__obj obj;
    mproc_method method;
};
MPROC__TAG_FIRST(struct mproc_ctx);

static mproc_ctx contexts[] = {{{MPROC__T_CTX, 0, NULL, NULL}, MPROC_FORK},
                               {{MPROC__T_CTX, 0, NULL, NULL}, MPROC_SPAWN},
                               {{MPROC__T_CTX, 0, NULL, NULL}, MPROC_FORKSERVER},
                               {{MPROC__T_CTX, 0, NULL, NULL}, MPROC_THREAD}};
static const char *const names[] = {"fork", "spawn", "forkserver", "thread"};

static mproc_method fixed_method; /* 0 until set or first used; global lock */

static int valid(mproc_method m) { return m >= MPROC_FORK && m <= MPROC_THREAD; }

mproc_method mproc_default_start_method_for(mproc_os os, int python_minor)
{
    if (python_minor < 0) {
        mproc__error(MPROC_EINVAL);
        return (mproc_method)0;
    }
    switch (os) {
    case MPROC_OS_WINDOWS: return MPROC_SPAWN;
    case MPROC_OS_MACOS: return python_minor < 8 ? MPROC_FORK : MPROC_SPAWN;
    case MPROC_OS_LINUX:
    case MPROC_OS_BSD: return python_minor < 14 ? MPROC_FORK : MPROC_FORKSERVER;
    default: mproc__error(MPROC_EINVAL); return (mproc_method)0;
    }
}

mproc_method mproc_default_start_method(void)
{
    /* The newest CPython behaviour (3.14). */
    return mproc_default_start_method_for(mproc__plat_os(), 14);
}

const char *mproc_method_name(mproc_method m) { return valid(m) ? names[m - 1] : "unknown"; }

int mproc_method_parse(const char *name, mproc_method *out)
{
    for (int i = 0; name && out && i < 4; i++)
        if (strcmp(name, names[i]) == 0) {
            *out = (mproc_method)(i + 1);
            return 0;
        }
    return mproc__error(MPROC_EINVAL);
}

/* The method the default context gets when nobody set one: the
 * MPROC_START_METHOD override, else the OS default.  0 + error if the
 * variable is invalid or names a method this OS lacks. */
static mproc_method initial_method(void)
{
    const char *env = mproc__plat_getenv("MPROC_START_METHOD");
    mproc_method m;

    if (!env || !*env)
        return mproc_default_start_method();
    if (mproc_method_parse(env, &m) != 0) {
        mproc__errorf(MPROC_EINVAL, "MPROC_START_METHOD=\"%s\" is not one of fork, spawn, forkserver, thread", env);
        return (mproc_method)0;
    }
    if (!mproc__plat_method_available(m)) {
        mproc__errorf(MPROC_ENOTSUP, "MPROC_START_METHOD=%s is not available on this OS", env);
        return (mproc_method)0;
    }
    return m;
}

int mproc__check_start_method_env(void)
{
    return initial_method() ? 0 : mproc_last_error();
}

int mproc_set_start_method(mproc_method m, int force)
{
    int rc = 0;
    if (!valid(m))
        return mproc__error(MPROC_EINVAL);
    if (!mproc__plat_method_available(m))
        return mproc__errorf(MPROC_ENOTSUP, "start method %s is not available on this OS", names[m - 1]);
    mproc__plat_global_lock();
    if (fixed_method && !force)
        rc = MPROC_EEXIST;
    else
        fixed_method = m;
    mproc__plat_global_unlock();
    return rc ? mproc__errorf(rc, "the start method has already been fixed (pass force to change it)") : 0;
}

mproc_method mproc_get_start_method(void)
{
    mproc_method m;
    mproc__plat_global_lock();
    m = fixed_method;
    mproc__plat_global_unlock();
    if (m)
        return m;
    if (!(m = initial_method()))
        return m;
    mproc__plat_global_lock();
    if (!fixed_method)
        fixed_method = m;
    m = fixed_method;
    mproc__plat_global_unlock();
    return m;
}

int mproc_get_all_start_methods(mproc_method *out, int cap)
{
    mproc_method def = mproc_default_start_method();
    int n = 0;

    if (cap < 0 || (cap > 0 && !out))
        return mproc__error(MPROC_EINVAL);
    if (cap > n)
        out[n] = def;
    n++;
    for (int m = MPROC_FORK; m <= MPROC_THREAD; m++) {
        if ((mproc_method)m == def || !mproc__plat_method_available((mproc_method)m))
            continue;
        if (cap > n)
            out[n] = (mproc_method)m;
        n++;
    }
    return n;
}

mproc_ctx *mproc_get_context(mproc_method m)
{
    if (m == 0 && !(m = mproc_get_start_method()))
        return NULL;
    if (!valid(m))
        return mproc__null(MPROC_EINVAL);
    if (!mproc__plat_method_available(m))
        return mproc__null(mproc__errorf(MPROC_ENOTSUP, "start method %s is not available on this OS", names[m - 1]));
    return &contexts[m - 1];
}

mproc_method mproc_ctx_method(const mproc_ctx *ctx)
{
    if (!mproc__is(ctx, MPROC__T_CTX)) {
        mproc__error(MPROC_EINVAL);
        return (mproc_method)0;
    }
    return ctx->method;
}

mproc_method mproc__ctx_method(const mproc_ctx *ctx) { return ctx ? ctx->method : (mproc_method)0; }

mproc_method mproc__ctx_resolve(mproc_ctx *ctx)
{
    if (!mproc__ctx_ok(ctx)) {
        mproc__error(MPROC_EINVAL);
        return (mproc_method)0;
    }
    return ctx ? ctx->method : mproc_get_start_method();
}

void mproc__reset_start_method_for_tests(void)
{
    mproc__plat_global_lock();
    fixed_method = (mproc_method)0;
    mproc__plat_global_unlock();
}
