/*
 * Process objects, as CPython's multiprocessing/process.py: a target, its
 * arguments, a name and a daemon flag, started once by the context's method,
 * then joined, polled, terminated.
 *
 * Every started child is also tracked in a list owned by this file, apart
 * from the user's object, so that a child whose object was freed early is
 * still reaped (no zombies) and the exit rule (terminate daemon children,
 * join the others) covers all of them.
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

enum { CREATED, STARTING, STARTED, ENDED };
enum { STDIO_INHERIT, STDIO_NULL, STDIO_FILE, STDIO_APPEND, STDIO_CONN };

typedef struct tracked {
    struct tracked *next, *prev;
    const mproc__child_ops *ops;
    void *child;
    int daemon;
    int detached;           /* the user's object is gone: we reap it */
    mproc_method method;
    mproc_target_fn fn;     /* thread method: the thread runs these */
    mproc_args *args;
    mproc__handle lifeline; /* die_with_parent: our end, closed once reaped */
    mproc_process *owner;   /* the user's object, NULL once freed or internal */
    char *name;             /* thread method: the child's name, for its thread */
} tracked;

struct mproc_process {
    mproc__obj obj;
    mproc__mutex *mu;
    mproc_method method;
    mproc_target_fn fn;
    const char *fn_text; /* as the caller wrote fn (a literal), or NULL */
    mproc_args *args;
    char *name;
    int daemon;
    int die_with_parent;
    int internal; /* the library's own (a pool's worker): not listed as a child */
    mproc__handle give; /* fork: the child's end of the lifeline, while starting */
    /* The child's attributes as set (names, values, paths owned) and, while
     * starting, as resolved (files opened) for the fork child. */
    size_t n_env;
    char **env_names, **env_values;
    char *cwd;
    struct {
        int kind; /* STDIO_* */
        char *path;
        mproc_conn *conn;
    } std[3];
    const mproc__child_attrs *fork_attrs;
    int state;
    int exitcode;
    long owner_pid; /* only the creator may start, join or signal */
    long pid;
    tracked *t;
};
MPROC__TAG_FIRST(struct mproc_process);

/* Global lock guards these. */
static tracked *children;
static int exiting;      /* the exit rule runs: nothing may free a child */
static unsigned long process_counter;

/* Children mproc__plat_* started (fork, spawn, thread). */
static int plat_wait(void *c, double timeout, int *code) { return mproc__plat_child_wait(c, timeout, code); }
static int plat_signal(void *c, int kill) { return mproc__plat_child_signal(c, kill); }
static mproc__handle plat_sentinel(void *c) { return mproc__plat_child_sentinel(c); }
static long plat_pid(void *c) { return mproc__plat_child_pid(c); }
static void plat_free(void *c) { mproc__plat_child_free(c); }
static const mproc__child_ops plat_ops = {plat_wait, plat_signal, plat_sentinel, plat_pid, plat_free};

static void list_add(tracked *t)
{
    t->prev = NULL;
    t->next = children;
    if (children)
        children->prev = t;
    children = t;
}

static void list_remove(tracked *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        children = t->next;
    if (t->next)
        t->next->prev = t->prev;
}

static void tracked_free(tracked *t)
{
    if (t->child)
        t->ops->free(t->child);
    /* Only now: the child has ended, and nothing else holds our end. */
    mproc__plat_lifeline_close(t->lifeline);
    mproc_args_free(t->args);
    free(t->name);
    free(t);
}

/* Reaps children whose objects were freed while they ran (CPython's
 * _cleanup()), so long-running parents collect no zombies. */
static void reap_detached(void)
{
    tracked *done = NULL;
    int code;

    /* A wait may log (a forkserver found dead): the hook runs after the
     * global lock is let go, never under it. */
    mproc__log_hold();
    mproc__plat_global_lock();
    for (tracked *t = children, *next; t; t = next) {
        next = t->next;
        if (t->detached && !exiting && t->ops->wait(t->child, 0, &code) == 0) {
            list_remove(t);
            t->next = done;
            done = t;
        }
    }
    mproc__plat_global_unlock();
    mproc__log_release();
    while (done) {
        tracked *t = done;
        done = t->next;
        tracked_free(t);
    }
}

/* CPython's _exit_function: terminate daemonic children, then join all
 * (daemon threads cannot be stopped and are not waited for). */
static void exit_rule(void)
{
    tracked **all = NULL;
    size_t n = 0, i = 0;
    int code;

    mproc__plat_global_lock();
    exiting = 1;
    for (tracked *t = children; t; t = t->next)
        n++;
    if (n && (all = malloc(n * sizeof *all)) != NULL)
        for (tracked *t = children; t; t = t->next)
            all[i++] = t;
    mproc__plat_global_unlock();
    for (i = 0; all && i < n; i++)
        if (all[i]->daemon && all[i]->method != MPROC_THREAD)
            (void)all[i]->ops->signal(all[i]->child, 0);
    for (i = 0; all && i < n; i++)
        if (!(all[i]->daemon && all[i]->method == MPROC_THREAD))
            (void)all[i]->ops->wait(all[i]->child, -1, &code);
    free(all);
}

static void forget_children_after_fork(void)
{
    /* The parent's children are not ours: forget them (their memory stays
     * with the parent's objects) and let this process start its own. */
    children = NULL;
    exiting = 0;
}

mproc_process *(mproc_process_new)(mproc_ctx *ctx, mproc_target_fn fn, mproc_args *args)
{
    return mproc_process_new_named(ctx, fn, NULL, args);
}

mproc_process *mproc_process_new_named(mproc_ctx *ctx, mproc_target_fn fn, const char *fn_text, mproc_args *args)
{
    mproc_method m = mproc__ctx_resolve(ctx);
    mproc_process *p;
    char name[32];
    unsigned long id;

    if (!m || !fn || (args && !mproc__is(args, MPROC__T_ARGS))) {
        mproc_args_free(args);
        return m ? mproc__null(MPROC_EINVAL) : mproc__raise_null(mproc_last_error());
    }
    p = calloc(1, sizeof *p);
    if (p && !(p->mu = mproc__plat_mutex_new())) {
        free(p);
        p = NULL;
    }
    if (!p) {
        mproc_args_free(args);
        return mproc__null(MPROC_ENOMEM);
    }
    mproc__plat_global_lock();
    id = ++process_counter;
    mproc__plat_global_unlock();
    snprintf(name, sizeof name, "Process-%lu", id);
    if (!(p->name = malloc(strlen(name) + 1))) {
        mproc__plat_mutex_free(p->mu);
        free(p);
        mproc_args_free(args);
        return mproc__null(MPROC_ENOMEM);
    }
    memcpy(p->name, name, strlen(name) + 1);
    mproc__obj_init(&p->obj, MPROC__T_PROCESS);
    p->method = m;
    p->fn = fn;
    p->fn_text = fn_text;
    p->args = args;
    if (args)
        mproc__obj_make_inner((mproc__obj *)args); /* the process frees them now */
    p->state = CREATED;
    p->give = MPROC__NO_HANDLE;
    p->owner_pid = mproc__plat_getpid();
    return p;
}

int mproc_process_set_name(mproc_process *p, const char *name)
{
    char *copy;
    int rc = 0;

    if (!mproc__is(p, MPROC__T_PROCESS) || !name || strlen(name) >= MPROC__NAME_MAX)
        return mproc__error(MPROC_EINVAL);
    if (!(copy = malloc(strlen(name) + 1)))
        return mproc__error(MPROC_ENOMEM);
    memcpy(copy, name, strlen(name) + 1);
    mproc__plat_mutex_lock(p->mu);
    if (p->state != CREATED) {
        rc = MPROC_ESTATE;
    } else {
        free(p->name);
        p->name = copy;
        copy = NULL;
    }
    mproc__plat_mutex_unlock(p->mu);
    free(copy);
    return rc ? mproc__raise(rc) : 0;
}

const char *mproc_process_name(const mproc_process *p)
{
    return mproc__is(p, MPROC__T_PROCESS) ? p->name : mproc__null(MPROC_EINVAL);
}

int mproc_process_set_daemon(mproc_process *p, int daemon)
{
    int rc = 0;
    if (!mproc__is(p, MPROC__T_PROCESS))
        return mproc__error(MPROC_EINVAL);
    mproc__plat_mutex_lock(p->mu);
    if (p->state != CREATED)
        rc = MPROC_ESTATE;
    else
        p->daemon = daemon != 0;
    mproc__plat_mutex_unlock(p->mu);
    return rc ? mproc__raise(rc) : 0;
}

int mproc_process_set_die_with_parent(mproc_process *p, int on)
{
    int rc = 0;
    if (!mproc__is(p, MPROC__T_PROCESS))
        return mproc__error(MPROC_EINVAL);
    mproc__plat_mutex_lock(p->mu);
    if (p->state != CREATED)
        rc = MPROC_ESTATE;
    else
        p->die_with_parent = on != 0;
    mproc__plat_mutex_unlock(p->mu);
    return rc ? mproc__raise(rc) : 0;
}

/* ---- the child's attributes ------------------------------------------------ */

static const char *const std_names[3] = {"input", "output", "error"};

/* 0 when p's attributes may change now: created, not started, and not a
 * thread (which shares its process's environment, directory and streams). */
static int attrs_settable(mproc_process *p)
{
    if (p->method == MPROC_THREAD)
        return mproc__errorf(MPROC_ENOTSUP, "a thread shares its process's environment, working directory and "
                                            "standard streams: %s cannot have its own",
                             p->name);
    return p->state == CREATED ? 0 : mproc__errorf(MPROC_ESTATE, "the attributes of %s are set before it starts",
                                                   p->name);
}

static char *str_copy(const char *s)
{
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    return copy ? memcpy(copy, s, n) : NULL;
}

int mproc_process_setenv(mproc_process *p, const char *name, const char *value)
{
    char *name_copy = NULL, *value_copy = NULL, **names, **values;
    size_t i;
    int rc;

    if (!mproc__is(p, MPROC__T_PROCESS) || !name || !*name || strchr(name, '='))
        return mproc__error(MPROC_EINVAL);
    if (!(name_copy = str_copy(name)) || (value && !(value_copy = str_copy(value)))) {
        free(name_copy);
        return mproc__error(MPROC_ENOMEM);
    }
    mproc__plat_mutex_lock(p->mu);
    if ((rc = attrs_settable(p)) != 0)
        goto done;
    for (i = 0; i < p->n_env && strcmp(p->env_names[i], name) != 0; i++)
        ;
    if (i == p->n_env) { /* a new one: grow both lists */
        names = realloc(p->env_names, (p->n_env + 1) * sizeof *names);
        if (names)
            p->env_names = names;
        values = names ? realloc(p->env_values, (p->n_env + 1) * sizeof *values) : NULL;
        if (!values) {
            rc = mproc__error(MPROC_ENOMEM);
            goto done;
        }
        p->env_values = values;
        p->env_names[i] = name_copy;
        p->env_values[i] = NULL;
        name_copy = NULL;
        p->n_env++;
    }
    free(p->env_values[i]);
    p->env_values[i] = value_copy;
    value_copy = NULL;
done:
    mproc__plat_mutex_unlock(p->mu);
    free(name_copy);
    free(value_copy);
    return rc;
}

int mproc_process_set_cwd(mproc_process *p, const char *path)
{
    char *copy = NULL;
    int rc;

    if (!mproc__is(p, MPROC__T_PROCESS) || (path && !*path))
        return mproc__error(MPROC_EINVAL);
    if (path && !(copy = str_copy(path)))
        return mproc__error(MPROC_ENOMEM);
    mproc__plat_mutex_lock(p->mu);
    if ((rc = attrs_settable(p)) == 0) {
        free(p->cwd);
        p->cwd = copy;
        copy = NULL;
    }
    mproc__plat_mutex_unlock(p->mu);
    free(copy);
    return rc;
}

static int set_stdio(mproc_process *p, mproc_stdio which, int kind, const char *path, mproc_conn *conn)
{
    char *copy = NULL;
    int rc;

    if (path && !(copy = str_copy(path)))
        return mproc__error(MPROC_ENOMEM);
    mproc__plat_mutex_lock(p->mu);
    if ((rc = attrs_settable(p)) == 0) {
        free(p->std[which].path);
        p->std[which].kind = kind;
        p->std[which].path = copy;
        p->std[which].conn = conn;
        copy = NULL;
    }
    mproc__plat_mutex_unlock(p->mu);
    free(copy);
    return rc;
}

static int stdio_ok(const mproc_process *p, mproc_stdio which)
{
    return mproc__is(p, MPROC__T_PROCESS) && (which == MPROC_STDIN || which == MPROC_STDOUT || which == MPROC_STDERR);
}

int mproc_process_set_stdio_file(mproc_process *p, mproc_stdio which, const char *path, int append)
{
    if (!stdio_ok(p, which) || !path || !*path || (append && which == MPROC_STDIN))
        return mproc__error(MPROC_EINVAL);
    return set_stdio(p, which, append ? STDIO_APPEND : STDIO_FILE, path, NULL);
}

int mproc_process_set_stdio_null(mproc_process *p, mproc_stdio which)
{
    if (!stdio_ok(p, which))
        return mproc__error(MPROC_EINVAL);
    return set_stdio(p, which, STDIO_NULL, NULL, NULL);
}

int mproc_process_set_stdio_conn(mproc_process *p, mproc_stdio which, mproc_conn *conn)
{
    if (!stdio_ok(p, which) || !mproc__is(conn, MPROC__T_CONN))
        return mproc__error(MPROC_EINVAL);
    if (which == MPROC_STDIN)
        return mproc__errorf(MPROC_EINVAL, "standard input from a connection is not supported (its messages are "
                                           "framed): give a file");
    if (mproc__conn_write_handle(conn) == MPROC__NO_HANDLE)
        return mproc__errorf(MPROC_EINVAL, "the standard %s of a child needs a connection that sends, not a "
                                           "receive-only end",
                             std_names[which]);
    return set_stdio(p, which, STDIO_CONN, NULL, conn);
}

static void attrs_forget(mproc_process *p)
{
    for (size_t i = 0; i < p->n_env; i++) {
        free(p->env_names[i]);
        free(p->env_values[i]);
    }
    free(p->env_names);
    free(p->env_values);
    free(p->cwd);
    for (int i = 0; i < 3; i++)
        free(p->std[i].path);
}

/* p's attributes for a start: a borrows p's lists; files are opened (in
 * opened[], closed by the caller once the child has its copies).  0 with
 * *any 0 when p has none. */
static int attrs_resolve(mproc_process *p, mproc__child_attrs *a, mproc__handle opened[3], int *any)
{
    memset(a, 0, sizeof *a);
    a->n_env = p->n_env;
    a->env_names = p->env_names;
    a->env_values = p->env_values;
    a->cwd = p->cwd;
    *any = p->n_env > 0 || p->cwd;
    for (int i = 0; i < 3; i++) {
        int mode = i == 0 ? MPROC__STD_READ : p->std[i].kind == STDIO_APPEND ? MPROC__STD_APPEND : MPROC__STD_WRITE;
        a->std[i] = opened[i] = MPROC__NO_HANDLE;
        switch (p->std[i].kind) {
        case STDIO_NULL:
        case STDIO_FILE:
        case STDIO_APPEND:
            if (mproc__plat_open_std(p->std[i].path, mode, &opened[i]) != 0)
                return mproc__errorf(MPROC_ESYS, "cannot open %s%s%s for the standard %s of %s (OS error %ld)",
                                     p->std[i].path ? "'" : "the null device", p->std[i].path ? p->std[i].path : "",
                                     p->std[i].path ? "'" : "", std_names[i], p->name, mproc_last_os_error());
            a->std[i] = opened[i];
            break;
        case STDIO_CONN:
            if (!mproc__is(p->std[i].conn, MPROC__T_CONN))
                return mproc__errorf(MPROC_EINVAL, "the connection given for the standard %s of %s was closed",
                                     std_names[i], p->name);
            a->std[i] = mproc__conn_write_handle(p->std[i].conn);
            break;
        default: continue;
        }
        *any = 1;
    }
    return 0;
}

static void fork_child_main(void *ud)
{
    mproc_process *p = ud;
    int stage = 0;
    /* What the parent could check it did (the directory existed, the files
     * opened): a failure here is a race, and the fork method has no channel
     * to report it before the target would run. */
    if (mproc__attrs_apply(p->fork_attrs, &stage) != 0) {
        mproc__log(MPROC_LOG_ERROR, "%s could not apply its %s (%s): not running its target", p->name,
                   stage == MPROC__FAIL_ENV ? "environment" : stage == MPROC__FAIL_CWD ? "working directory"
                                                                                       : "standard streams",
                   mproc_strerror(mproc_last_error()));
        mproc__exit_process(255);
    }
    if (p->give != MPROC__NO_HANDLE && mproc__plat_lifeline_watch(p->give, p->owner_pid) != 0) {
        /* Running unwatched could outlive the parent, which asked that
         * this never happen. */
        mproc__log(MPROC_LOG_ERROR, "%s cannot watch its parent's life (%s): not running its target", p->name,
                   mproc_strerror(mproc_last_error()));
        mproc__exit_process(255);
    }
    mproc__current_set(p->name, p->daemon, MPROC_FORK, 0);
    mproc__exit_process(p->fn(p->args));
}

static int thread_main(void *ud)
{
    tracked *t = ud;
    mproc__thread_identity id;
    int code;

    mproc__current_thread_begin(&id, t->name, t->daemon);
    code = t->fn(t->args);
    mproc__current_thread_end();
    return code;
}

/* Whether text is a C identifier (what the caller wrote for the target). */
static int is_identifier(const char *text)
{
    if (!text || !(isalpha((unsigned char)*text) || *text == '_'))
        return 0;
    for (; *text; text++)
        if (!isalnum((unsigned char)*text) && *text != '_')
            return 0;
    return 1;
}

static int start_by_record(mproc_process *p, tracked *t, mproc__handle give, mproc__child_attrs *attrs)
{
    mproc__child_attrs cwd_only;
    mproc__record rec = {MPROC__BOOT_RUN, NULL, p->name, p->daemon, 0, p->args, p->die_with_parent, give, NULL};
    const char *target = mproc__target_name(p->fn);
    mproc__child *child = NULL;
    mproc__encoded enc;
    int rc;

    if (!mproc__plat_initialized() && !mproc__spawn_configured())
        return mproc__errorf(MPROC_ENOINIT,
                             "the %s start method needs mproc_init(argc, argv) as the first statement of main (or, in "
                             "a library that does not own main, mproc_set_spawn_module)",
                             mproc_method_name(p->method));
    if (!target && is_identifier(p->fn_text))
        return mproc__errorf(MPROC_ENOTREG,
                             "target '%s' of %s is not registered: add MPROC_TARGET(%s) after its definition, at file "
                             "scope (%s children find their target by name; a name registered by two functions is "
                             "refused)",
                             p->fn_text, p->name, p->fn_text, mproc_method_name(p->method));
    if (!target)
        return mproc__errorf(MPROC_ENOTREG,
                             "the target of %s is not registered: add MPROC_TARGET(function) after its definition, at "
                             "file scope (%s children find their target by name; a name registered by two functions "
                             "is refused)",
                             p->name, mproc_method_name(p->method));
    rec.target = (char *)target;
    rec.parent_pid = mproc__plat_getpid();
    /* A forkserver's child applies them all itself; a spawned child is
     * given them by the platform, and enters its directory itself only
     * where the platform cannot set it. */
    rec.attrs = p->method == MPROC_SPAWN ? NULL : attrs;
    if (p->method == MPROC_SPAWN && attrs && attrs->cwd && !mproc__plat_spawn_sets_cwd()) {
        memset(&cwd_only, 0, sizeof cwd_only);
        cwd_only.cwd = attrs->cwd;
        for (int i = 0; i < 3; i++)
            cwd_only.std[i] = MPROC__NO_HANDLE;
        rec.attrs = &cwd_only;
    }
    if ((rc = mproc__record_encode(&enc, &rec)) != 0)
        return rc;
    enc.spawn_attrs = p->method == MPROC_SPAWN ? attrs : NULL;
    if (p->method == MPROC_SPAWN) {
        rc = mproc__spawn_record(&child, &enc);
        t->child = child;
    } else {
        rc = mproc__forkserver_start(&t->child, &enc);
        t->ops = &mproc__fs_ops;
    }
    mproc__buf_free(&enc.buf);
    return rc;
}

static int check_may_start(mproc_process *p)
{
    /* A spawned child that has not run mproc_init would start another copy
     * of itself, which would do the same: refuse instead of a fork bomb. */
    if (mproc__bootstrap_pending())
        return mproc__errorf(MPROC_ENOINIT, "this process was spawned by mproc but has not called mproc_init(argc, argv); "
                                            "call it first in main");
    if (p->owner_pid != mproc__plat_getpid())
        return mproc__errorf(MPROC_ESTATE, "can only start a process object created by this process");
    if (mproc__current_is_daemon())
        return mproc__errorf(MPROC_ESTATE, "daemonic processes are not allowed to have children");
    if (p->method != MPROC_THREAD)
        return mproc__args_check_for_process(p->args, mproc_method_name(p->method));
    return 0;
}

int mproc_process_start(mproc_process *p)
{
    mproc__child *child = NULL;
    mproc__handle give, opened[3] = {MPROC__NO_HANDLE, MPROC__NO_HANDLE, MPROC__NO_HANDLE};
    mproc__child_attrs attrs;
    tracked *t;
    int rc, any_attrs = 0;

    memset(&attrs, 0, sizeof attrs);
    if (!mproc__is(p, MPROC__T_PROCESS))
        return mproc__error(MPROC_EINVAL);
    mproc__plat_mutex_lock(p->mu);
    rc = p->state == CREATED ? 0 : MPROC_ESTATE;
    if (rc == 0)
        p->state = STARTING;
    /* A daemon is ended when its parent exits normally; when the parent is
     * killed, the lifeline ends it all the same. */
    if (p->daemon)
        p->die_with_parent = 1;
    mproc__plat_mutex_unlock(p->mu);
    if (rc)
        return mproc__errorf(rc, "a process can be started only once");
    if ((rc = check_may_start(p)) != 0)
        goto failed;
    if (p->method != MPROC_THREAD && (rc = attrs_resolve(p, &attrs, opened, &any_attrs)) != 0)
        goto failed;
    /* A fork has no channel to report a directory it cannot enter: look
     * before forking (the others' children report it themselves). */
    if (p->method == MPROC_FORK && attrs.cwd && mproc__plat_check_dir(attrs.cwd) != 0) {
        rc = mproc__errorf(MPROC_ESYS, "the working directory '%s' of %s cannot be entered (OS error %ld)", attrs.cwd,
                           p->name, mproc_last_os_error());
        goto failed;
    }
    reap_detached();
    mproc__on_exit(MPROC__EXIT_CHILDREN, exit_rule);
    mproc__on_fork_child(forget_children_after_fork);
    if (!(t = calloc(1, sizeof *t))) {
        rc = mproc__error(MPROC_ENOMEM);
        goto failed;
    }
    t->ops = &plat_ops;
    t->daemon = p->daemon;
    t->method = p->method;
    t->lifeline = give = MPROC__NO_HANDLE;
    /* A thread dies with its process anyway. */
    if (p->die_with_parent && p->method != MPROC_THREAD && (rc = mproc__plat_lifeline_open(&t->lifeline, &give)) != 0) {
        free(t);
        goto failed;
    }
    switch (p->method) {
    case MPROC_FORK:
        p->give = give;
        p->fork_attrs = any_attrs ? &attrs : NULL;
        rc = mproc__plat_fork(&child, fork_child_main, p);
        p->give = MPROC__NO_HANDLE;
        p->fork_attrs = NULL;
        t->child = child;
        break;
    case MPROC_THREAD:
        /* The thread may outlive the object: it owns its target, args
         * and name. */
        t->fn = p->fn;
        if (!(t->name = malloc(strlen(p->name) + 1))) {
            rc = mproc__error(MPROC_ENOMEM);
            break;
        }
        memcpy(t->name, p->name, strlen(p->name) + 1);
        t->args = p->args;
        p->args = NULL;
        rc = mproc__plat_thread_start(&child, thread_main, t);
        t->child = child;
        break;
    default: rc = start_by_record(p, t, give, any_attrs ? &attrs : NULL); break;
    }
    /* The child has its own copy of its end (or none, having failed), and
     * of the files opened for its std streams. */
    mproc__plat_close(give);
    for (int i = 0; i < 3; i++) {
        mproc__plat_close(opened[i]);
        opened[i] = MPROC__NO_HANDLE;
    }
    if (rc != 0) {
        if (p->method == MPROC_THREAD && t->args) {
            p->args = t->args;
            t->args = NULL;
        }
        mproc__plat_lifeline_close(t->lifeline);
        free(t->name);
        free(t);
        goto failed;
    }
    mproc__plat_global_lock();
    t->owner = p->internal ? NULL : p;
    list_add(t);
    mproc__plat_global_unlock();
    mproc__plat_mutex_lock(p->mu);
    p->t = t;
    p->pid = t->ops->pid(t->child);
    p->state = STARTED;
    mproc__plat_mutex_unlock(p->mu);
    return 0;

failed:
    mproc__close_handles(opened, 3);
    mproc__plat_mutex_lock(p->mu);
    p->state = CREATED;
    mproc__plat_mutex_unlock(p->mu);
    return mproc__raise(rc);
}

/* The tracking entry of a started process owned by this process, or an error. */
static int started_child(mproc_process *p, tracked **c)
{
    int state;
    if (!mproc__is(p, MPROC__T_PROCESS))
        return mproc__error(MPROC_EINVAL);
    if (p->owner_pid != mproc__plat_getpid())
        return mproc__errorf(MPROC_ESTATE, "can only use a process object in the process that created it");
    mproc__plat_mutex_lock(p->mu);
    state = p->state;
    *c = p->t;
    mproc__plat_mutex_unlock(p->mu);
    return state == STARTED || state == ENDED ? 0 : mproc__error(MPROC_ESTATE);
}

/* Waits up to timeout; records the exit code once the child ended. */
static int wait_child(mproc_process *p, tracked *t, double timeout)
{
    int code, rc = t->ops->wait(t->child, timeout, &code);
    if (rc != 0)
        return rc;
    mproc__plat_mutex_lock(p->mu);
    p->exitcode = code;
    p->state = ENDED;
    mproc__plat_mutex_unlock(p->mu);
    return 0;
}

int mproc_process_join(mproc_process *p, double timeout)
{
    tracked *c = NULL;
    int rc = started_child(p, &c);
    if (mproc__timeout(&timeout) != 0)
        return mproc_last_error();
    if (rc)
        return rc;
    rc = wait_child(p, c, timeout);
    return rc ? mproc__raise(rc) : 0;
}

int mproc_process_is_alive(mproc_process *p)
{
    tracked *c = NULL;
    if (!mproc__is(p, MPROC__T_PROCESS))
        return mproc__error(MPROC_EINVAL);
    if (started_child(p, &c) != 0)
        return 0; /* not started, or not this process's: not alive here */
    return wait_child(p, c, 0) == MPROC_ETIMEDOUT;
}

int mproc_process_exitcode(mproc_process *p, int *code)
{
    tracked *c = NULL;
    int rc = started_child(p, &c);
    if (rc == 0 && !code)
        rc = MPROC_EINVAL;
    if (rc == 0 && wait_child(p, c, 0) != 0)
        rc = MPROC_ESTATE; /* still running */
    if (rc)
        return mproc__raise(rc);
    mproc__plat_mutex_lock(p->mu);
    *code = p->exitcode;
    mproc__plat_mutex_unlock(p->mu);
    return 0;
}

static int signal_process(mproc_process *p, int kill)
{
    tracked *c = NULL;
    int rc = started_child(p, &c);
    if (rc)
        return rc;
    if (p->method == MPROC_THREAD)
        return mproc__errorf(MPROC_ENOTSUP, "a thread cannot be terminated or killed");
    rc = c->ops->signal(c->child, kill);
    return rc ? mproc__raise(rc) : 0;
}

int mproc_process_terminate(mproc_process *p) { return signal_process(p, 0); }

int mproc_process_kill(mproc_process *p) { return signal_process(p, 1); }

long mproc_process_pid(const mproc_process *p)
{
    if (!mproc__is(p, MPROC__T_PROCESS)) {
        mproc__error(MPROC_EINVAL);
        return 0;
    }
    return p->pid;
}

void mproc__process_set_internal(mproc_process *p) { p->internal = 1; }

/* Whether t's child has ended (as mproc_wait sees it), with its exit code.
 * Its sentinel may fire a moment before the code is known (a forkserver
 * child's comes from the server after its life pipe closed): then the code
 * is waited for, briefly. */
static int ended_now(tracked *t, int *code)
{
    mproc__handle h = t->ops->sentinel(t->child);
    int ready = 0;
    if (t->ops->wait(t->child, 0, code) == 0)
        return 1;
    if (h == MPROC__NO_HANDLE || mproc__plat_wait_handles(&h, 1, 0, &ready) <= 0 || !ready)
        return 0;
    return t->ops->wait(t->child, 10, code) == 0;
}

int mproc_active_children(mproc_process **out, size_t cap)
{
    size_t n = 0;
    int code;

    if (!out && cap > 0)
        return mproc__error(MPROC_EINVAL);
    reap_detached();
    /* The global lock keeps every listed object alive (mproc_process_free
     * takes it to unlink its entry); ended children are reaped here, as
     * CPython's _cleanup() does, so their exit codes are recorded.  A
     * wait may log: the hook runs once the lock is let go. */
    mproc__log_hold();
    mproc__plat_global_lock();
    for (tracked *t = children; t; t = t->next) {
        mproc_process *p = t->owner;
        int state;
        if (!p)
            continue;
        mproc__plat_mutex_lock(p->mu);
        state = p->state;
        mproc__plat_mutex_unlock(p->mu);
        if (state != STARTED)
            continue;
        if (ended_now(t, &code)) {
            mproc__plat_mutex_lock(p->mu);
            p->exitcode = code;
            p->state = ENDED;
            mproc__plat_mutex_unlock(p->mu);
            continue;
        }
        if (n < cap)
            out[n] = p;
        n++;
    }
    mproc__plat_global_unlock();
    mproc__log_release();
    return n > (size_t)INT_MAX ? INT_MAX : (int)n;
}

void mproc_process_free(mproc_process *p)
{
    tracked *t;
    int code, ours;

    if (!mproc__is(p, MPROC__T_PROCESS))
        return;
    t = p->t;
    /* In a forked child the tracking entry is the parent's: leave it. */
    ours = p->owner_pid == mproc__plat_getpid();
    if (t && ours) {
        mproc__log_hold(); /* a wait may log: not under the global lock */
        mproc__plat_global_lock();
        t->owner = NULL;
        if (exiting || t->ops->wait(t->child, 0, &code) != 0) {
            t->detached = 1;
            t = NULL;
        } else {
            list_remove(t);
        }
        mproc__plat_global_unlock();
        mproc__log_release();
        if (t)
            tracked_free(t);
    }
    mproc__obj_clear(&p->obj);
    mproc_args_free(p->args);
    attrs_forget(p);
    mproc__plat_mutex_free(p->mu);
    free(p->name);
    free(p);
}

int mproc_process_sentinel(mproc_process *p, intptr_t *sentinel)
{
    tracked *c = NULL;
    int rc;
    if (!mproc__is(p, MPROC__T_PROCESS) || !sentinel)
        return mproc__error(MPROC_EINVAL);
    if ((rc = started_child(p, &c)) != 0)
        return rc;
    /* Held by c until mproc_process_free: a join reaps, it closes nothing. */
    *sentinel = c->ops->sentinel(c->child);
    if (*sentinel == MPROC__NO_HANDLE)
        return mproc__errorf(MPROC_ENOTSUP, "this process has no handle that tells its end");
    return 0;
}
