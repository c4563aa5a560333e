/* A C function run in a child process (multiprocessing.Process). */
#include <stdio.h>
#include <string.h>

#include "mproc.h"

/* The target: runs in the child; its return value is the exit code. */
static int greet(mproc_args *args)
{
    const char *who = mproc_args_str(args, 0);
    printf("hello, %s\n", who);
    fflush(stdout); /* a forked child leaves without flushing stdio */
    return (int)strlen(who);
}
MPROC_TARGET(greet); /* spawn and forkserver children find it by name */

int main(int argc, char **argv)
{
    mproc_args *args;
    mproc_process *p;
    int code = -1;

    if (mproc_init(argc, argv) != 0) /* first: a spawn child runs greet in here */
        return 1;
    args = mproc_args_new();
    mproc_args_add_str(args, "world");
    p = mproc_process_new(NULL, greet, args); /* NULL: the default context; takes args */
    if (!p || mproc_process_set_name(p, "greeter") != 0 || mproc_process_start(p) != 0) {
        fprintf(stderr, "start: %s\n", mproc_strerror(mproc_last_error()));
        return 1;
    }
    if (mproc_process_join(p, -1) != 0 || mproc_process_is_alive(p) == 1 || mproc_process_exitcode(p, &code) != 0)
        return 1;
    printf("%s (pid %ld) exited with %d\n", mproc_process_name(p), mproc_process_pid(p), code);
    mproc_process_free(p);
    return code == 5 ? 0 : 1;
}
