/*
 * The thread start method (multiprocessing.dummy): the target runs in a
 * thread of this process.  The thread closes the write end of a pipe when
 * it finishes, so the read end serves as a sentinel like any process's.
 */
#include "posix.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if MPROC_HAVE_PR_SET_NAME
#include <sys/prctl.h>
#endif
#if MPROC_HAVE_PTHREAD_SET_NAME_NP
#include <pthread_np.h>
#endif

static atomic_long live_threads;
static pthread_once_t reset_once = PTHREAD_ONCE_INIT;

/* Threads do not cross fork(): a child starts with none of ours. */
static void reset_in_child(void) { atomic_store(&live_threads, 0); }

static void register_reset(void) { pthread_atfork(NULL, NULL, reset_in_child); }

/* Shared by the thread and its child handle: the handle may be freed while
 * the thread still runs (the thread is then detached). */
typedef struct {
    atomic_int refs;
    mproc__thread_fn fn;
    void *ud;
    int result;
    int done_fd; /* write end, closed when fn returned */
} thread_box;

static void box_release(thread_box *b)
{
    if (atomic_fetch_sub(&b->refs, 1) == 1)
        free(b);
}

static void *thread_main(void *arg)
{
    thread_box *b = arg;
    b->result = b->fn(b->ud);
    atomic_fetch_sub(&live_threads, 1);
    mproc__posix_parent_only_close(b->done_fd);
    box_release(b);
    return NULL;
}

long mproc__posix_threads_live(void) { return atomic_load(&live_threads); }

static int reap(mproc__child *c)
{
    pthread_join(c->thread, NULL);
    return ((thread_box *)c->box)->result;
}

static void release(mproc__child *c)
{
    if (!c->box)
        return;
    if (!c->done)
        pthread_detach(c->thread);
    box_release(c->box);
    c->box = NULL;
}

int mproc__plat_thread_start(mproc__child **out, mproc__thread_fn fn, void *ud)
{
    mproc__child *c = mproc__posix_child_new();
    thread_box *b = calloc(1, sizeof *b);
    int p[2], err;

    if (!c || !b) {
        free(b);
        mproc__plat_child_free(c);
        return MPROC_ENOMEM;
    }
    /* A forked child must not hold the write end: the thread's end would
     * never read as such while that child lives. */
    if ((err = mproc__posix_parent_only_pipe(p)) != 0) {
        free(b);
        mproc__plat_child_free(c);
        return err;
    }
    atomic_init(&b->refs, 2);
    b->fn = fn;
    b->ud = ud;
    b->done_fd = p[1];
    c->sentinel = p[0];
    c->box = b;
    c->reap_thread = reap;
    c->release_thread = release;
    pthread_once(&reset_once, register_reset);
    atomic_fetch_add(&live_threads, 1);
    if ((err = pthread_create(&c->thread, NULL, thread_main, b)) != 0) {
        atomic_fetch_sub(&live_threads, 1);
        mproc__posix_parent_only_close(p[1]);
        free(b);
        c->box = NULL;
        mproc__plat_child_free(c);
        return mproc__sys_error(err);
    }
    *out = c;
    return 0;
}

void mproc__plat_set_name(const char *name, int whole_process)
{
#if MPROC_HAVE_PR_SET_NAME
    /* The kernel keeps 15 bytes and a NUL (TASK_COMM_LEN) and cuts the
     * rest itself; the main thread's name is the process's comm. */
    (void)prctl(PR_SET_NAME, name, 0, 0, 0);
#elif MPROC_HAVE_PTHREAD_SETNAME_SELF
    /* macOS keeps 63 bytes and refuses (ENAMETOOLONG) a longer name. */
    char cut[64];
    size_t n = strlen(name) < sizeof cut ? strlen(name) : sizeof cut - 1;
    memcpy(cut, name, n);
    cut[n] = '\0';
    (void)pthread_setname_np(cut);
#elif MPROC_HAVE_PTHREAD_SET_NAME_NP
    pthread_set_name_np(pthread_self(), name);
#endif
#if MPROC_HAVE_SETPROCTITLE
    /* ps shows "program: name" for the process. */
    if (whole_process)
        setproctitle("%s", name);
#endif
    (void)name;
    (void)whole_process;
}
