/* Arguments: typed values copied into the child (Process(args=(...))). */
#include <stdio.h>
#include <string.h>

#include "mproc.h"

static int check_args(mproc_args *args)
{
    size_t len = 0;
    const void *bytes;

    if (mproc_args_count(args) != 4 || mproc_args_i64(args, 0) != -42 || mproc_args_f64(args, 1) != 2.5)
        return 1;
    if (strcmp(mproc_args_str(args, 2), "text") != 0)
        return 2;
    bytes = mproc_args_bytes(args, 3, &len);
    if (len != 3 || memcmp(bytes, "\0\1\2", 3) != 0)
        return 3;
    /* A wrong type or index: 0 / NULL, and MPROC_EINVAL. */
    if (mproc_args_str(args, 0) != NULL || mproc_last_error() != MPROC_EINVAL)
        return 4;
    if (mproc_args_i64(args, 9) != 0 || mproc_last_error() != MPROC_EINVAL)
        return 5;
    return 0; /* args belongs to the library: not freed here */
}
MPROC_TARGET(check_args);

int main(int argc, char **argv)
{
    mproc_args *args;
    mproc_process *p;
    int code = -1;

    if (mproc_init(argc, argv) != 0)
        return 1;
    args = mproc_args_new();
    if (!args || mproc_args_add_i64(args, -42) != 0 || mproc_args_add_f64(args, 2.5) != 0 ||
        mproc_args_add_str(args, "text") != 0 || mproc_args_add_bytes(args, "\0\1\2", 3) != 0) {
        mproc_args_free(args); /* still ours: not given to a process yet */
        return 1;
    }
    p = mproc_process_new(NULL, check_args, args); /* p owns args from here, even on failure */
    if (!p || mproc_process_start(p) != 0 || mproc_process_join(p, -1) != 0)
        return 1;
    mproc_process_exitcode(p, &code);
    mproc_process_free(p);
    printf("check_args exited with %d\n", code);
    return code;
}
