/* Start methods and contexts: one program may mix them. */
#include <stdio.h>

#include "mproc.h"

static int child(mproc_args *args)
{
    return (int)mproc_args_i64(args, 0);
}
MPROC_TARGET(child);

/* Runs child(value) under ctx; returns its exit code, or -1. */
static int run(mproc_ctx *ctx, int value)
{
    mproc_args *args = mproc_args_new();
    mproc_process *p;
    int code = -1;

    mproc_args_add_i64(args, value);
    p = mproc_process_new(ctx, child, args);
    if (p && mproc_process_start(p) == 0 && mproc_process_join(p, -1) == 0)
        mproc_process_exitcode(p, &code);
    mproc_process_free(p);
    return code;
}

int main(int argc, char **argv)
{
    mproc_method all[4], parsed;
    mproc_ctx *threads;
    int n;

    if (mproc_init(argc, argv) != 0)
        return 1;
    n = mproc_get_all_start_methods(all, 4); /* the OS default first */
    printf("available:");
    for (int i = 0; i < n && i < 4; i++)
        printf(" %s", mproc_method_name(all[i]));
    /* The default context's method: mproc_set_start_method's, else
     * MPROC_START_METHOD's, else the OS default.  Asking fixes it. */
    printf("\nin use: %s\n", mproc_method_name(mproc_get_start_method()));
    if (mproc_set_start_method(MPROC_SPAWN, 0) != MPROC_EEXIST) /* force = 0: already fixed */
        return 1;
    if (mproc_method_parse("thread", &parsed) != 0 || parsed != MPROC_THREAD)
        return 1;
    if (mproc_default_start_method_for(MPROC_OS_LINUX, 13) != MPROC_FORK) /* CPython 3.13's table */
        return 1;
    if (!mproc_get_context(MPROC_FORK) && mproc_last_error() != MPROC_ENOTSUP) /* Windows: no fork */
        return 1;

    threads = mproc_get_context(MPROC_THREAD);
    if (mproc_ctx_method(threads) != MPROC_THREAD)
        return 1;
    /* The same target in a process of the default context, then in a thread. */
    return run(NULL, 7) == 7 && run(threads, 8) == 8 ? 0 : 1;
}
