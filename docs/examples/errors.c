/* Errors: negative MPROC_E* codes, mproc_strerror, mproc_last_error,
 * mproc_last_error_message, the log hook, and predicates compared with
 * == 1. */
#include <stdio.h>
#include <string.h>

#include "mproc.h"

static int messages;

/* The library never prints: warnings and error details come here, from
 * any thread (this program logs from one thread only). */
static void on_log(int level, const char *msg, void *ud)
{
    (void)ud;
    fprintf(stderr, "mproc[%d]: %s\n", level, msg);
    messages++;
}

/* Not registered with MPROC_TARGET: spawn and forkserver cannot find it. */
static int unregistered(mproc_args *args)
{
    (void)args;
    return 0;
}

int main(int argc, char **argv)
{
    mproc_process *p;
    mproc_event *event;
    mproc_ctx *spawn;

    mproc_set_log_handler(on_log, NULL); /* may run before mproc_init */
    if (mproc_init(argc, argv) != 0)
        return 1;

    /* int results: 0 or a negative code; pointers: NULL and mproc_last_error(). */
    if (mproc_lock_release(NULL) != MPROC_EINVAL || mproc_get_context((mproc_method)99) != NULL ||
        mproc_last_error() != MPROC_EINVAL)
        return 1;
    printf("MPROC_EINVAL: %s\n", mproc_strerror(MPROC_EINVAL));

    /* Spawn refuses an unregistered target before anything starts. */
    spawn = mproc_get_context(MPROC_SPAWN);
    if (!(p = mproc_process_new(spawn, unregistered, NULL)) || mproc_process_start(p) != MPROC_ENOTREG)
        return 1;
    /* The detail names the function: "target 'unregistered' of Process-1 is
     * not registered: add MPROC_TARGET(unregistered) ...". */
    if (!strstr(mproc_last_error_message(), "MPROC_TARGET(unregistered)"))
        return 1;
    printf("start: %s\n", mproc_last_error_message());
    mproc_process_free(p);

    /* A predicate returns 1, 0 or a negative code: `if (mproc_event_is_set(e))`
     * would take an error for "set".  Compare with == 1. */
    if (!(event = mproc_event_new(NULL)) || mproc_event_is_set(NULL) != MPROC_EINVAL || mproc_event_is_set(event) == 1)
        return 1;
    mproc_event_free(event);

    mproc_set_log_handler(NULL, NULL);
    printf("%d message(s) went to the log hook (mproc %s)\n", messages, mproc_version_string());
    return messages > 0 ? 0 : 1;
}
