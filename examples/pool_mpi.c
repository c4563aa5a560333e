/*
 * examples/pool_map.c's squares, on the ranks of an MPI job instead of
 * local worker processes.  The one line that changes is the pool's
 * constructor (plus mproc_mpi_init and mproc_mpi_finalize around main):
 *
 *     pool = mproc_pool_new(NULL, 2, NULL);            // pool_map.c
 *     pool = mproc_mpi_pool_new(MPI_COMM_WORLD, NULL);  // here
 *
 * Launch it with the MPI launcher of the site (rank 0 is the master, the
 * others are workers, as mpi4py.futures' static mode):
 *
 *     mpiexec -n 3 build/examples/examples/pool_mpi
 *     mpiexec -n 64 --hostfile nodes build/examples/examples/pool_mpi
 *
 *     python: mpiexec -n 3 python -m mpi4py.futures squares.py
 *             with MPIPoolExecutor() as pool: print(list(pool.map(square, range(100))))
 *
 * Every rank runs this same program, so the task travels by the name
 * MPROC_TASK gave it.  A rank that dies takes the MPI job down (MPI has no
 * recovery of its own), so pool_map.c's crashing task has no twin here.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mproc_mpi.h"

enum { N = 100 };

static int square(const void *in, size_t len, mproc_out *out)
{
    int64_t v;
    if (len != sizeof v)
        return 1;
    memcpy(&v, in, sizeof v);
    v *= v;
    return mproc_out_write(out, &v, sizeof v);
}
MPROC_TASK(square); /* the worker ranks find the task by this name */

int main(int argc, char **argv)
{
    int64_t in[N], out[N];
    mproc_task_status st[N];
    mproc_pool *pool;
    int rc, wrong = 0, size = 0;
    long pids[2] = {0, 0};

    rc = mproc_init(argc, argv);
    if (rc == 0)
        rc = mproc_mpi_init(&argc, &argv); /* ranks 1.. serve tasks in here, then exit 0 */
    if (rc != 0) {
        fprintf(stderr, "init: %s\n", mproc_strerror(rc));
        return 1;
    }
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    printf("rank 0 of %d: the master; %d worker ranks\n", size, size - 1);

    pool = mproc_mpi_pool_new(MPI_COMM_WORLD, NULL); /* the only line that differs from pool_map.c */
    if (!pool) {
        fprintf(stderr, "mproc_mpi_pool_new: %s\n", mproc_strerror(mproc_last_error()));
        mproc_mpi_finalize();
        return 1;
    }
    for (int i = 0; i < N; i++)
        in[i] = i;
    rc = mproc_pool_map(pool, square, in, N, sizeof *in, out, sizeof *out, 0, st);
    for (int i = 0; i < N; i++) {
        wrong += rc != 0 || out[i] != in[i] * in[i];
        /* Which ranks' processes ran the items (pids on their nodes). */
        if (st[i].pid != pids[0] && !pids[1] && pids[0])
            pids[1] = st[i].pid;
        if (!pids[0])
            pids[0] = st[i].pid;
    }
    printf("map: %s; squares: %lld %lld %lld ... %lld, %d wrong\n", mproc_strerror(rc), (long long)out[0],
           (long long)out[1], (long long)out[2], (long long)out[N - 1], wrong);
    printf("worker pids seen: %ld%s%ld\n", pids[0], pids[1] ? " " : "", pids[1]);

    mproc_pool_close(pool);
    mproc_pool_join(pool, -1);
    mproc_pool_free(pool);
    mproc_mpi_finalize(); /* the worker ranks finalize MPI and exit 0 */
    return rc != 0 || wrong != 0;
}
