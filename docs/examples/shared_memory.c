/* Shared memory as Value and Array: each child fills its own slice of an
 * array of doubles the parent then reads (no lock: the slices are apart). */
#include <stdio.h>

#include "mproc.h"

enum { CHILDREN = 4, PER_CHILD = 256 };

struct shared {
    double values[CHILDREN * PER_CHILD]; /* an Array('d', ...) */
    long done;                           /* a Value('l'), written by the parent only */
};

static int fill(mproc_args *args)
{
    struct shared *s = mproc_shm_ptr(mproc_args_shm(args, 0)); /* this process's address */
    int64_t first = mproc_args_i64(args, 1);
    for (int64_t i = first; i < first + PER_CHILD; i++)
        s->values[i] = (double)i * 0.5;
    return 0;
}
MPROC_TARGET(fill);

int main(int argc, char **argv)
{
    mproc_process *children[CHILDREN];
    mproc_shm *shm;
    struct shared *s;
    double sum = 0;

    if (mproc_init(argc, argv) != 0 || !(shm = mproc_shm_new(NULL, sizeof *s))) /* zero-filled */
        return 1;
    s = mproc_shm_ptr(shm); /* page-aligned: any struct fits */
    if (mproc_shm_size(shm) != sizeof *s)
        return 1;
    for (int i = 0; i < CHILDREN; i++) {
        mproc_args *args = mproc_args_new();
        mproc_args_add_shm(args, shm);
        mproc_args_add_i64(args, (int64_t)i * PER_CHILD);
        if (!(children[i] = mproc_process_new(NULL, fill, args)) || mproc_process_start(children[i]) != 0)
            return 1;
    }
    for (int i = 0; i < CHILDREN; i++) {
        mproc_process_join(children[i], -1); /* join: the child's writes are visible now */
        mproc_process_free(children[i]);
        s->done++;
    }
    for (int i = 0; i < CHILDREN * PER_CHILD; i++)
        sum += s->values[i];
    printf("%ld children filled the array; sum = %.1f\n", s->done, sum);
    mproc_shm_free(shm); /* this process's mapping; the block goes with the last one */
    return sum == 0.5 * (CHILDREN * PER_CHILD - 1) * (CHILDREN * PER_CHILD) / 2 ? 0 : 1;
}
