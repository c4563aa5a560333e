/* Pool.map: fixed-size records in, fixed-size results out, a status per item. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mproc.h"

enum { N = 50 };

/* A task: one input byte string in, one result out.  A nonzero return
 * fails the item with MPROC_ETASK and that code. */
static int square(const void *in, size_t len, mproc_out *out)
{
    int64_t v;
    if (len != sizeof v)
        return 1;
    memcpy(&v, in, sizeof v); /* the input carries no alignment promise */
    if (v < 0)
        return 2;
    v *= v;
    return mproc_out_write(out, &v, sizeof v);
}
MPROC_TASK(square); /* spawn and forkserver workers find it by name */

int main(int argc, char **argv)
{
    int64_t in[N], out[N];
    mproc_task_status st[N];
    mproc_pool *pool;
    int rc, ok = 1;

    if (mproc_init(argc, argv) != 0)
        return 1;
    for (int i = 0; i < N; i++)
        in[i] = i == 7 ? -7 : i; /* one input the task refuses */
    if (!(pool = mproc_pool_new(NULL, 2, NULL))) /* 2 workers, default options */
        return 1;
    /* chunksize 0: CPython's ceil(n / (4 * workers)).  Every item runs; the
     * call returns the status of the first one that failed. */
    rc = mproc_pool_map(pool, square, in, N, sizeof *in, out, sizeof *out, 0, st);
    for (int i = 0; i < N; i++)
        ok &= i == 7 ? st[i].status == MPROC_ETASK && st[i].code == 2 && out[i] == 0
                     : st[i].status == 0 && out[i] == in[i] * in[i];
    mproc_pool_close(pool);    /* no new work */
    mproc_pool_join(pool, -1); /* workers finish and are reaped */
    mproc_pool_free(pool);
    printf("map: %s; item 7: %s, code %d\n", mproc_strerror(rc), mproc_strerror(st[7].status), st[7].code);
    return rc == MPROC_ETASK && ok ? 0 : 1;
}
