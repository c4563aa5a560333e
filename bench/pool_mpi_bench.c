/*
 * The MPI pool's figures (issue 9), against the process pool, and
 * mpi4py.futures measured the same way by bench/mpi4py_pool.py;
 * bench/pool_mpi.sh runs the three in one go and prints the table.
 *
 *     mpiexec -n 3 mproc-bench-mpi [ROUNDS]     the MPI pool: 2 worker ranks
 *     mproc-bench-mpi --local [ROUNDS]          a process pool of 2 workers (default start method)
 *
 * Figures, each ROUNDS times (default 5) after one warm-up, as
 * "name<TAB>median<TAB>min<TAB>max<TAB>unit":
 *     trivial tasks/s, chunksize 1 (100,000 squares of an int64)
 *     trivial tasks/s, default chunksize (1,000,000 squares)
 *     16 MiB tasks: MB/s of input (8 tasks, each 16 MiB in and 16 MiB out)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mproc_mpi.h"

enum { BIG = 16 << 20, BIG_TASKS = 8 };

static int square(const void *in, size_t len, mproc_out *out)
{
    int64_t v;
    if (len != sizeof v)
        return 1;
    memcpy(&v, in, sizeof v);
    v *= v;
    return mproc_out_write(out, &v, sizeof v);
}
MPROC_TASK(square);

static int flip(const void *in, size_t len, mproc_out *out)
{
    unsigned char *copy = malloc(len ? len : 1);
    int rc;
    if (!copy)
        return 12;
    for (size_t i = 0; i < len; i++)
        copy[i] = (unsigned char)(((const unsigned char *)in)[i] ^ 0xa5);
    rc = mproc_out_write(out, copy, len);
    free(copy);
    return rc;
}
MPROC_TASK(flip);

static double now(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "%s: %s\n", what, mproc_strerror(rc));
    exit(1);
}

static double squares(mproc_pool *p, size_t n, size_t chunksize)
{
    int64_t *in = malloc(n * sizeof *in), *out = malloc(n * sizeof *out);
    double t0, t;
    int rc;
    if (!in || !out)
        die("squares", MPROC_ENOMEM);
    for (size_t i = 0; i < n; i++)
        in[i] = (int64_t)i;
    t0 = now();
    rc = mproc_pool_map(p, square, in, n, sizeof *in, out, sizeof *out, chunksize, NULL);
    t = now() - t0;
    if (rc != 0 || out[n - 1] != (int64_t)(n - 1) * (int64_t)(n - 1))
        die("map", rc ? rc : MPROC_EBROKEN);
    free(in);
    free(out);
    return (double)n / t;
}

typedef struct {
    unsigned char *buf;
    int made;
    size_t ok;
} big;

static int next_big(void *ud, const void **data, size_t *len)
{
    big *b = ud;
    if (b->made >= BIG_TASKS)
        return 0;
    b->buf[0] = (unsigned char)b->made++;
    *data = b->buf;
    *len = BIG;
    return 1;
}

static void on_big(void *ud, size_t index, const mproc_task_status *st, const void *data, size_t len)
{
    big *b = ud;
    (void)index;
    b->ok += st->status == 0 && len == BIG && ((const unsigned char *)data)[1] == (0x11 ^ 0xa5);
}

static double big_rate(mproc_pool *p)
{
    big b = {malloc(BIG), 0, 0};
    double t0, t;
    int rc;
    if (!b.buf)
        die("16 MiB", MPROC_ENOMEM);
    memset(b.buf, 0x11, BIG);
    t0 = now();
    rc = mproc_pool_imap(p, flip, next_big, &b, on_big, &b, 1, 0);
    t = now() - t0;
    if (rc != 0 || b.ok != BIG_TASKS)
        die("16 MiB imap", rc ? rc : MPROC_EBROKEN);
    free(b.buf);
    return (double)BIG_TASKS * BIG / 1e6 / t;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *name, double *v, int n, const char *unit)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    printf("%s\t%.0f\t%.0f\t%.0f\t%s\n", name, n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2, v[0], v[n - 1],
           unit);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    int local = argc > 1 && strcmp(argv[1], "--local") == 0;
    int rounds = argc > 1 + local ? atoi(argv[1 + local]) : 5;
    double one[64], dflt[64], mb[64];
    mproc_pool *p;
    int rc;

    if ((rc = mproc_init(argc, argv)) != 0)
        die("mproc_init", rc);
    if (!local && (rc = mproc_mpi_init(&argc, &argv)) != 0)
        die("mproc_mpi_init", rc);
    rounds = rounds < 1 ? 1 : rounds > 64 ? 64 : rounds;
    p = local ? mproc_pool_new(NULL, 2, NULL) : mproc_mpi_pool_new(MPI_COMM_WORLD, NULL);
    if (!p)
        die("pool", mproc_last_error());
    (void)squares(p, 1000, 1); /* warm-up: every worker started */
    (void)big_rate(p);
    for (int r = 0; r < rounds; r++) {
        one[r] = squares(p, 100000, 1);
        dflt[r] = squares(p, 1000000, 0);
        mb[r] = big_rate(p);
    }
    report("trivial, chunksize 1", one, rounds, "tasks/s");
    report("trivial, default chunksize", dflt, rounds, "tasks/s");
    report("16 MiB in + 16 MiB out", mb, rounds, "MB/s in");
    mproc_pool_free(p);
    if (!local)
        mproc_mpi_finalize();
    return 0;
}
