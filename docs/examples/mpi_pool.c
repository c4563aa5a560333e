/* The pool on MPI ranks (include/mproc_mpi.h, target mproc::mpi):
 *     mpiexec -n 3 ./mpi_pool      rank 0 the master, ranks 1 and 2 workers */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mproc_mpi.h"

enum { N = 20 };

static int cube(const void *in, size_t len, mproc_out *out)
{
    int64_t v;
    if (len != sizeof v)
        return 1;
    memcpy(&v, in, sizeof v);
    v = v * v * v;
    return mproc_out_write(out, &v, sizeof v);
}
MPROC_TASK(cube); /* every rank runs this program: tasks travel by name */

int main(int argc, char **argv)
{
    int64_t in[N], out[N];
    mproc_pool *pool;
    int rc, wrong = 0;

    if (mproc_init(argc, argv) != 0 || mproc_mpi_init(&argc, &argv) != 0) /* ranks 1.. serve in here */
        return 1;
    if (!(pool = mproc_mpi_pool_new(MPI_COMM_WORLD, NULL))) {
        mproc_mpi_finalize();
        return 1;
    }
    for (int i = 0; i < N; i++)
        in[i] = i;
    rc = mproc_pool_map(pool, cube, in, N, sizeof *in, out, sizeof *out, 0, NULL); /* the mproc_pool API */
    for (int i = 0; i < N; i++)
        wrong += out[i] != in[i] * in[i] * in[i];
    mproc_pool_close(pool);
    mproc_pool_join(pool, -1);
    mproc_pool_free(pool);
    mproc_mpi_finalize(); /* the worker ranks finalize MPI and exit 0 */
    printf("map on MPI ranks: %s, %d wrong\n", mproc_strerror(rc), wrong);
    return rc == 0 && wrong == 0 ? 0 : 1;
}
