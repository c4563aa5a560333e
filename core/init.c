/*
 * mproc_init: the first statement of main.  In a program started by the
 * user it records what spawn needs; in a process mproc spawned it takes the
 * bootstrap record and runs the target (or serves as the forkserver), and
 * never returns.
 */
#include "internal.h"

int mproc_init(int argc, char **argv)
{
    mproc__handle h;
    int rc;

    if (!mproc__plat_initialized() && (rc = mproc__plat_init(argc, argv)) != 0)
        return rc;
    h = mproc__bootstrap_take();
    if (h != MPROC__NO_HANDLE && mproc__bootstrap_run(h) == 1)
        mproc__forkserver_serve(h);
    return mproc__check_start_method_env();
}
