/*
 * Fault injection for tests, in SQLite's manner: a test arms a point and the
 * next passes through it fail as the OS call there would.  Unarmed points
 * cost one relaxed atomic load.
 */
#include <stdatomic.h>

#include "internal.h"

static atomic_int armed[MPROC__FAULT_COUNT];

void mproc__fault_arm(int point, int n)
{
    if (point >= 0 && point < MPROC__FAULT_COUNT)
        atomic_store(&armed[point], n > 0 ? n : 0);
}

int mproc__fault_hit(int point)
{
    int n = atomic_load_explicit(&armed[point], memory_order_relaxed);
    while (n > 0)
        if (atomic_compare_exchange_weak(&armed[point], &n, n - 1))
            return 1;
    return 0;
}
