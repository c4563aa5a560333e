/*
 * Targets by name.  spawn and forkserver children run a fresh copy of the
 * program, so a function pointer means nothing there: the parent sends the
 * name MPROC_TARGET registered and the child looks it up (CPython pickles
 * functions by qualified name the same way).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct entry {
    struct entry *next;
    mproc_target_fn fn;
    int ambiguous; /* two functions registered one name: refuse both */
    char name[];
} entry;

static entry *targets;

/* Anchor for the extern declaration that ends MPROC_TARGET(fn). */
int mproc__target_registry_anchor;

static entry *find_name(const char *name)
{
    for (entry *e = targets; e; e = e->next)
        if (strcmp(e->name, name) == 0)
            return e;
    return NULL;
}

int mproc_register_target(const char *name, mproc_target_fn fn)
{
    size_t n;
    entry *e;
    int rc = 0;

    if (!name || !fn || (n = strlen(name)) == 0 || n >= MPROC__NAME_MAX)
        return mproc__error(MPROC_EINVAL);
    mproc__plat_global_lock();
    e = find_name(name);
    if (e) {
        if (e->fn != fn) {
            e->ambiguous = 1;
            rc = MPROC_EEXIST;
        }
    } else if ((e = malloc(sizeof *e + n + 1)) != NULL) {
        e->fn = fn;
        e->ambiguous = 0;
        memcpy(e->name, name, n + 1);
        e->next = targets;
        targets = e;
    } else {
        rc = MPROC_ENOMEM;
    }
    mproc__plat_global_unlock();
    if (rc == MPROC_EEXIST)
        return mproc__errorf(rc, "two functions registered as target \"%s\"", name);
    return rc ? mproc__error(rc) : 0;
}

const char *mproc__target_name(mproc_target_fn fn)
{
    const char *name = NULL;
    mproc__plat_global_lock();
    for (entry *e = targets; e; e = e->next)
        if (e->fn == fn && !e->ambiguous) {
            name = e->name;
            break;
        }
    mproc__plat_global_unlock();
    return name;
}

mproc_target_fn mproc__target_find(const char *name)
{
    mproc_target_fn fn = NULL;
    entry *e;
    mproc__plat_global_lock();
    e = find_name(name);
    if (e && !e->ambiguous)
        fn = e->fn;
    mproc__plat_global_unlock();
    return fn;
}
