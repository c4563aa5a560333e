/*
 * mproc_args_add_<kind> and mproc_args_<kind> for every shareable object:
 * kept apart from the objects' own files so that they do not depend on the
 * argument list that depends on them (core/objects.c's table).
 */
#include "internal.h"

int mproc_args_add_shm(mproc_args *a, mproc_shm *s) { return mproc__args_add_object(a, MPROC__OBJ_SHM, s); }
mproc_shm *mproc_args_shm(const mproc_args *a, size_t i) { return mproc__args_object(a, i, MPROC__OBJ_SHM); }
int mproc_args_add_conn(mproc_args *a, mproc_conn *c) { return mproc__args_add_object(a, MPROC__OBJ_CONN, c); }
mproc_conn *mproc_args_conn(const mproc_args *a, size_t i) { return mproc__args_object(a, i, MPROC__OBJ_CONN); }
int mproc_args_add_queue(mproc_args *a, mproc_queue *q) { return mproc__args_add_object(a, MPROC__OBJ_QUEUE, q); }
mproc_queue *mproc_args_queue(const mproc_args *a, size_t i) { return mproc__args_object(a, i, MPROC__OBJ_QUEUE); }
int mproc_args_add_lock(mproc_args *a, mproc_lock *l) { return mproc__args_add_object(a, MPROC__OBJ_LOCK, l); }
int mproc_args_add_sem(mproc_args *a, mproc_sem *s) { return mproc__args_add_object(a, MPROC__OBJ_SEM, s); }
mproc_lock *mproc_args_lock(const mproc_args *a, size_t i) { return mproc__args_object(a, i, MPROC__OBJ_LOCK); }
mproc_sem *mproc_args_sem(const mproc_args *a, size_t i) { return mproc__args_object(a, i, MPROC__OBJ_SEM); }
int mproc_args_add_cond(mproc_args *a, mproc_cond *c) { return mproc__args_add_object(a, MPROC__OBJ_COND, c); }
int mproc_args_add_event(mproc_args *a, mproc_event *e) { return mproc__args_add_object(a, MPROC__OBJ_EVENT, e); }
int mproc_args_add_barrier(mproc_args *a, mproc_barrier *b) { return mproc__args_add_object(a, MPROC__OBJ_BARRIER, b); }
mproc_cond *mproc_args_cond(const mproc_args *a, size_t i) { return mproc__args_object(a, i, MPROC__OBJ_COND); }
mproc_event *mproc_args_event(const mproc_args *a, size_t i) { return mproc__args_object(a, i, MPROC__OBJ_EVENT); }
mproc_barrier *mproc_args_barrier(const mproc_args *a, size_t i)
{
    return mproc__args_object(a, i, MPROC__OBJ_BARRIER);
}
