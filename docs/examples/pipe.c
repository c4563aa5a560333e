/* A duplex Pipe, poll, and waiting on several objects at once
 * (multiprocessing.Pipe and multiprocessing.connection.wait). */
#include <stdio.h>
#include <string.h>

#include "mproc.h"

/* Answers each message with its length as text; an empty message ends it. */
static int echo_length(mproc_args *args)
{
    mproc_conn *c = mproc_args_conn(args, 0);
    for (;;) {
        void *msg;
        size_t len;
        char reply[32];
        if (mproc_conn_recv(c, &msg, &len, -1) != 0)
            return 1;
        mproc_free(msg);
        if (len == 0)
            return 0;
        snprintf(reply, sizeof reply, "%lu", (unsigned long)len);
        if (mproc_conn_send(c, reply, strlen(reply)) != 0)
            return 1;
    }
}
MPROC_TARGET(echo_length);

int main(int argc, char **argv)
{
    mproc_conn *mine, *theirs;
    mproc_args *args;
    mproc_process *p;
    void *objects[2];
    int ready[2];
    void *reply;
    size_t len;

    if (mproc_init(argc, argv) != 0 || mproc_pipe(NULL, 1, &mine, &theirs) != 0) /* 1: duplex */
        return 1;
    args = mproc_args_new();
    mproc_args_add_conn(args, theirs);
    if (!(p = mproc_process_new(NULL, echo_length, args)) || mproc_process_start(p) != 0)
        return 1;

    if (mproc_conn_poll(mine, 0) != 0) /* nothing sent yet: 0 */
        return 1;
    if (mproc_conn_send(mine, "hello", 5) != 0 || mproc_conn_poll(mine, 10) != 1)
        return 1;
    if (mproc_conn_recv(mine, &reply, &len, 10) != 0 || len != 1 || memcmp(reply, "5", 1) != 0)
        return 1;
    mproc_free(reply);

    /* wait: the connection (a message or EOF) or the process (ended). */
    mproc_conn_send(mine, "", 0);
    objects[0] = mine;
    objects[1] = p;
    if (mproc_wait(objects, 2, 10, ready) != 1 || ready[0] != 0 || ready[1] != 1)
        return 1;
    mproc_process_join(p, -1);
    mproc_process_free(p);
    /* Closed only now: a thread child (MPROC_THREAD) used this very handle. */
    mproc_conn_close(theirs);
    mproc_conn_close(mine);
    printf("echo_length answered and ended\n");
    return 0;
}
