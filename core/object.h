/*
 * The header every public object begins with: a tag naming its type.
 *
 * Public calls take opaque pointers, and some take them untyped
 * (mproc_wait's void * list) or are easy to hand the wrong one (a cast, an
 * mproc_args_add_* of the wrong kind).  Each public call checks the tag of
 * the object it is given before it touches anything else, so that NULL, an
 * object of another type, or one already freed (its tag cleared) gives
 * MPROC_EINVAL (NULL + MPROC_EINVAL from a call returning a pointer; void
 * calls do nothing) instead of a crash.  Best effort for freed objects:
 * once their memory is reused, a use after free is undefined behaviour,
 * as in libuv; the check only catches it while the memory still holds the
 * cleared tag.
 *
 * The tag lives in the handle the caller holds, in this process's own
 * memory, never in state shared with other processes (a Lock's word, a
 * queue's counters): checking it touches nothing another process sees,
 * and each process's handle on a shared object carries its own.
 */
#ifndef MPROC_OBJECT_H
#define MPROC_OBJECT_H

#include <stddef.h>
#include <stdint.h>

#include "platform.h" /* MPROC_TLS */

/* on_free: mproc_object_on_free's hook (core/object.c), called once by
 * mproc__obj_clear when the object is freed; NULL when none is set.
 * inner: the object belongs to another one (mproc__obj_make_inner), which
 * frees it: no owner may take it, mproc_object_free leaves it. */
typedef struct {
    uint32_t tag;
    uint32_t inner;
    void (*on_free)(void *object, void *arg);
    void *on_free_arg;
} mproc__obj;

/* Four characters, "mp" then two naming the type (a memory dump shows
 * them in this order on little-endian machines): never 0, and unlike small
 * integers or pointers, unlikely to be found in memory by chance. */
#define MPROC__TAG(c, d) ((uint32_t)'m' | (uint32_t)'p' << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
#define MPROC__T_CTX MPROC__TAG('C', 'x')
#define MPROC__T_ARGS MPROC__TAG('A', 'r')
#define MPROC__T_PROCESS MPROC__TAG('P', 'r')
#define MPROC__T_QUEUE MPROC__TAG('Q', 'u')       /* pipe-backed (core/queue.c) */
#define MPROC__T_QUEUE_LOCAL MPROC__TAG('Q', 'l') /* the thread context's (core/queue_local.c) */
#define MPROC__T_CONN MPROC__TAG('C', 'n')
#define MPROC__T_SHM MPROC__TAG('S', 'h')
#define MPROC__T_LOCK MPROC__TAG('L', 'k') /* Lock and RLock, shared or the thread context's */
#define MPROC__T_SEM MPROC__TAG('S', 'm')
#define MPROC__T_EVENT MPROC__TAG('E', 'v')
#define MPROC__T_COND MPROC__TAG('C', 'd')
#define MPROC__T_BARRIER MPROC__TAG('B', 'r')
#define MPROC__T_POOL MPROC__TAG('P', 'l')
#define MPROC__T_RESULT MPROC__TAG('R', 's')
#define MPROC__T_OUT MPROC__TAG('O', 'u')

/* After each tagged struct: mproc__is reads the tag through a pointer to
 * the object, so the tag must come first. */
#define MPROC__TAG_FIRST(type) _Static_assert(offsetof(type, obj) == 0, #type " must begin with its mproc__obj")

/* Counts this thread's checks (core/error.c): a check starts a public
 * call, so an error detail set before the latest check belongs to an
 * earlier call, and a code passed on now (mproc__raise) must not keep it. */
extern MPROC_TLS unsigned mproc__check_count;

/* 1 when obj (NULL allowed) is a live object tagged tag: one compare on
 * the path of every public call.  obj must point to a struct whose first
 * member is an mproc__obj, or to memory at least that large. */
static inline int mproc__is(const void *obj, uint32_t tag)
{
    mproc__check_count++;
    return obj != NULL && ((const mproc__obj *)obj)->tag == tag;
}

/* A queue of either kind: the same public type, two structs. */
static inline int mproc__is_queue(const void *obj)
{
    return mproc__is(obj, MPROC__T_QUEUE) || mproc__is(obj, MPROC__T_QUEUE_LOCAL);
}

static inline void mproc__obj_init(mproc__obj *o, uint32_t tag)
{
    o->tag = tag;
    o->inner = 0;
    o->on_free = NULL;
    o->on_free_arg = NULL;
}

/* Before the memory is released: a later call on the object (a double
 * free) then finds no tag while the memory is still there.  A volatile
 * store, or the compiler may drop it as a store to memory about to be
 * freed.  Then the free hook, if any, once (o is the object: its header
 * comes first). */
static inline void mproc__obj_clear(mproc__obj *o)
{
    void (*hook)(void *, void *) = o->on_free;
    *(volatile uint32_t *)&o->tag = 0;
    if (hook) {
        o->on_free = NULL;
        hook(o, o->on_free_arg);
    }
}

/* o now belongs to another object (a condition's own lock, args a process
 * took, what a child decoded from its record): an owner it had lets go of
 * it now (its hook runs, as at a free), and no other may take it. */
static inline void mproc__obj_make_inner(mproc__obj *o)
{
    void (*hook)(void *, void *) = o->on_free;
    o->inner = 1;
    if (hook) {
        o->on_free = NULL;
        hook(o, o->on_free_arg);
    }
}

#endif /* MPROC_OBJECT_H */
