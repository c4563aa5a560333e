/*
 * The classic multiprocessing example: two threads count down, one from
 * 10 and one from 20, interleaving their output.
 *
 *     python: multiprocessing.dummy: the same code, only the context changes
 */
#include <stdio.h>

#include "mproc.h"

/* The library never prints; show its warnings and error details. */
static void log_to_stderr(int level, const char *msg, void *ud)
{
    (void)ud;
    fprintf(stderr, "mproc[%d]: %s\n", level, msg);
}

static int countdown(mproc_args *args)
{
    const char *who = mproc_args_str(args, 0);
    for (int64_t n = mproc_args_i64(args, 1); n > 0; n--) {
        printf("%s: %lld\n", who, (long long)n);
        fflush(stdout);
    }
    return 0;
}
MPROC_TARGET(countdown);

int main(int argc, char **argv)
{
    mproc_process *procs[2];
    const int64_t from[2] = {10, 20};
    int rc;

    mproc_set_log_handler(log_to_stderr, NULL);
    rc = mproc_init(argc, argv);

    if (rc != 0) {
        fprintf(stderr, "mproc_init: %s\n", mproc_strerror(rc));
        return 1;
    }
    printf("start method: thread\n");
    fflush(stdout);
    for (int i = 0; i < 2; i++) {
        mproc_args *args = mproc_args_new();
        mproc_args_add_str(args, i == 0 ? "A" : "B");
        mproc_args_add_i64(args, from[i]);
        procs[i] = mproc_process_new(mproc_get_context(MPROC_THREAD), countdown, args);
        if (!procs[i] || (rc = mproc_process_start(procs[i])) != 0) {
            fprintf(stderr, "start: %s\n", mproc_strerror(procs[i] ? rc : mproc_last_error()));
            return 1;
        }
    }
    for (int i = 0; i < 2; i++) {
        int code = -1;
        mproc_process_join(procs[i], -1);
        mproc_process_exitcode(procs[i], &code);
        printf("%s exited with %d\n", mproc_process_name(procs[i]), code);
        mproc_process_free(procs[i]);
    }
    return 0;
}
