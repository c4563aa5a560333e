/*
 * Targets and tasks by name.  spawn and forkserver children run a fresh
 * copy of the program, so a function pointer means nothing there: the
 * parent sends the name MPROC_TARGET or MPROC_TASK registered and the child
 * looks it up (CPython pickles functions by qualified name the same way).
 * Targets and tasks are two lists of one kind of entry: a function pointer
 * of either type, stored as a generic one and converted back on lookup.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef void (*any_fn)(void);

typedef struct entry {
    struct entry *next;
    any_fn fn;
    int ambiguous; /* two functions registered one name: refuse both */
    char name[];
} entry;

typedef struct {
    entry *head;
    const char *what; /* "target" or "task", for messages */
} registry;

static registry targets = {NULL, "target"}, tasks = {NULL, "task"};

/* Anchor for the extern declaration that ends MPROC_TARGET(fn) and MPROC_TASK(fn). */
int mproc__target_registry_anchor;

static entry *find_name(registry *r, const char *name)
{
    for (entry *e = r->head; e; e = e->next)
        if (strcmp(e->name, name) == 0)
            return e;
    return NULL;
}

static int add(registry *r, const char *name, any_fn fn)
{
    size_t n;
    entry *e;
    int rc = 0;

    if (!name || !fn || (n = strlen(name)) == 0 || n >= MPROC__NAME_MAX)
        return mproc__error(MPROC_EINVAL);
    mproc__plat_global_lock();
    e = find_name(r, name);
    if (e) {
        if (e->fn != fn) {
            e->ambiguous = 1;
            rc = MPROC_EEXIST;
        }
    } else if ((e = malloc(sizeof *e + n + 1)) != NULL) {
        e->fn = fn;
        e->ambiguous = 0;
        memcpy(e->name, name, n + 1);
        e->next = r->head;
        r->head = e;
    } else {
        rc = MPROC_ENOMEM;
    }
    mproc__plat_global_unlock();
    if (rc == MPROC_EEXIST)
        return mproc__errorf(rc, "two functions registered as %s \"%s\"", r->what, name);
    return rc ? mproc__raise(rc) : 0;
}

static const char *name_of(registry *r, any_fn fn)
{
    const char *name = NULL;
    mproc__plat_global_lock();
    for (entry *e = r->head; e; e = e->next)
        if (e->fn == fn && !e->ambiguous) {
            name = e->name;
            break;
        }
    mproc__plat_global_unlock();
    return name;
}

static any_fn find(registry *r, const char *name)
{
    any_fn fn = NULL;
    entry *e;
    mproc__plat_global_lock();
    e = find_name(r, name);
    if (e && !e->ambiguous)
        fn = e->fn;
    mproc__plat_global_unlock();
    return fn;
}

int mproc_register_target(const char *name, mproc_target_fn fn) { return add(&targets, name, (any_fn)fn); }
const char *mproc__target_name(mproc_target_fn fn) { return name_of(&targets, (any_fn)fn); }
mproc_target_fn mproc__target_find(const char *name) { return (mproc_target_fn)find(&targets, name); }

int mproc_register_task(const char *name, mproc_task_fn fn) { return add(&tasks, name, (any_fn)fn); }
const char *mproc__task_name(mproc_task_fn fn) { return name_of(&tasks, (any_fn)fn); }
mproc_task_fn mproc__task_find(const char *name) { return (mproc_task_fn)find(&tasks, name); }
