/*
 * The program every consumer project builds (tests/consumers/, run by
 * ci/consumers.sh): mproc used as a user's program uses it, from an install
 * (find_package, pkg-config) or a source tree (add_subdirectory).  A spawn
 * child (the program run again, so the library and mproc_init must work
 * from wherever the program was linked) puts a message on a queue; the
 * parent gets it, checks it and joins the child.  Exits 0 when all of that
 * worked, 1 with a message otherwise.
 */
#include <stdio.h>
#include <string.h>

#include "mproc.h"

#define MESSAGE "hello from a spawned child"

static int producer(mproc_args *args)
{
    mproc_queue *q = mproc_args_queue(args, 0);
    return mproc_queue_put(q, MESSAGE, sizeof MESSAGE, -1) == 0 ? 0 : 1;
}
MPROC_TARGET(producer);

static int fail(const char *what, int code)
{
    fprintf(stderr, "consumer: %s: %s\n", what, mproc_strerror(code));
    return 1;
}

int main(int argc, char **argv)
{
    mproc_ctx *ctx;
    mproc_queue *q;
    mproc_args *args;
    mproc_process *p;
    void *data;
    size_t len;
    int rc, code;

    if ((rc = mproc_init(argc, argv)) != 0)
        return fail("mproc_init", rc);
    if (mproc_version() != MPROC_VERSION_HEX) {
        fprintf(stderr, "consumer: the library is mproc %s, the header %s\n", mproc_version_string(),
                MPROC_VERSION_STRING);
        return 1;
    }
    if (!(ctx = mproc_get_context(MPROC_SPAWN)))
        return fail("mproc_get_context(MPROC_SPAWN)", mproc_last_error());
    if (!(q = mproc_queue_new(ctx, 0)) || !(args = mproc_args_new()))
        return fail("mproc_queue_new / mproc_args_new", mproc_last_error());
    if ((rc = mproc_args_add_queue(args, q)) != 0)
        return fail("mproc_args_add_queue", rc);
    if (!(p = mproc_process_new(ctx, producer, args)))
        return fail("mproc_process_new", mproc_last_error());
    if ((rc = mproc_process_start(p)) != 0)
        return fail("mproc_process_start", rc);
    if ((rc = mproc_queue_get(q, &data, &len, 60.0)) != 0)
        return fail("mproc_queue_get", rc);
    if (len != sizeof MESSAGE || memcmp(data, MESSAGE, len) != 0) {
        fprintf(stderr, "consumer: got %zu bytes that are not \"%s\"\n", len, MESSAGE);
        return 1;
    }
    mproc_free(data);
    if ((rc = mproc_process_join(p, 60.0)) != 0)
        return fail("mproc_process_join", rc);
    if ((rc = mproc_process_exitcode(p, &code)) != 0)
        return fail("mproc_process_exitcode", rc);
    if (code != 0) {
        fprintf(stderr, "consumer: the child exited with %d\n", code);
        return 1;
    }
    mproc_process_free(p);
    mproc_queue_free(q);
    printf("consumer: mproc %s, a spawn child's message came through a queue\n", mproc_version_string());
    return 0;
}
