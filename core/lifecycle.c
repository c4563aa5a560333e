/*
 * What must happen when a process exits and in the child of a fork, as
 * CPython's util.Finalize / _exit_function and register_after_fork: each
 * module registers its own work here the first time it needs it, so that
 * no module has to know the others (process.c does not know queues, the
 * platform knows none of them).
 *
 * Exit work runs once, in phase order, either from atexit() (a program
 * returning from main, a spawned child finishing its target) or from
 * mproc__exit_process (a fork or forkserver child, which leaves with
 * _exit so as not to run its parent's atexit handlers).
 */
#include <stdlib.h>

#include "internal.h"

#define MAX_HANDLERS 16

typedef struct {
    int phase;
    void (*fn)(void);
} exit_handler;

/* The global lock guards these. */
static exit_handler exit_handlers[MAX_HANDLERS];
static int n_exit;
static void (*fork_handlers[MAX_HANDLERS])(void);
static int n_fork;
static int atexit_registered;
static int atfork_registered;
static int exit_ran;

static void run_exit_handlers(void)
{
    exit_handler todo[MAX_HANDLERS];
    int n;

    mproc__plat_global_lock();
    n = exit_ran ? 0 : n_exit;
    exit_ran = 1;
    for (int i = 0; i < n; i++)
        todo[i] = exit_handlers[i];
    mproc__plat_global_unlock();
    /* Lowest phase first; registration order within a phase. */
    for (int phase = MPROC__EXIT_CLOSE; phase <= MPROC__EXIT_FLUSH; phase++)
        for (int i = 0; i < n; i++)
            if (todo[i].phase == phase)
                todo[i].fn();
}

static void run_fork_handlers(void)
{
    /* In the child, single-threaded: the table is a copy of the parent's. */
    exit_ran = 0;
    for (int i = 0; i < n_fork; i++)
        fork_handlers[i]();
}

void mproc__on_exit(int phase, void (*fn)(void))
{
    int first = 0;
    mproc__plat_global_lock();
    for (int i = 0; i < n_exit; i++)
        if (exit_handlers[i].fn == fn)
            fn = NULL;
    if (fn && n_exit < MAX_HANDLERS) {
        exit_handlers[n_exit].phase = phase;
        exit_handlers[n_exit].fn = fn;
        n_exit++;
    }
    first = !atexit_registered;
    atexit_registered = 1;
    mproc__plat_global_unlock();
    if (first)
        atexit(run_exit_handlers);
}

void mproc__on_fork_child(void (*fn)(void))
{
    mproc__plat_global_lock();
    for (int i = 0; i < n_fork; i++)
        if (fork_handlers[i] == fn)
            fn = NULL;
    if (fn && n_fork < MAX_HANDLERS)
        fork_handlers[n_fork++] = fn;
    /* Under the lock: no thread may return from here and fork before the
     * hook is in place. */
    if (!atfork_registered)
        mproc__plat_atfork_child(run_fork_handlers);
    atfork_registered = 1;
    mproc__plat_global_unlock();
}

void mproc__link_add(mproc__link **head, mproc__link *l, void *obj)
{
    mproc__plat_global_lock();
    l->obj = obj;
    l->prev = NULL;
    l->next = *head;
    if (*head)
        (*head)->prev = l;
    *head = l;
    mproc__plat_global_unlock();
}

void mproc__link_remove(mproc__link **head, mproc__link *l)
{
    mproc__plat_global_lock();
    if (l->prev)
        l->prev->next = l->next;
    else if (*head == l)
        *head = l->next;
    if (l->next)
        l->next->prev = l->prev;
    l->prev = l->next = NULL;
    mproc__plat_global_unlock();
}

void mproc__exit_process(int code)
{
    run_exit_handlers();
    mproc__plat_exit_now(code);
}
