/*
 * Started children: waiting, reaping, signalling.  Processes (fork, spawn)
 * are waitpid()ed; threads are joined by thread.c through the child's
 * reap_thread.  Each child has a sentinel descriptor that becomes readable
 * when it ends, so waits with a timeout are poll()s, never sleep loops.
 *
 * Also the exit notification of a process that reaps all its children
 * itself (the forkserver): a SIGCHLD self-pipe and waitpid(-1).
 */
#include "posix.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#if MPROC_HAVE_KINFO_PROC_P_STAT
#include <sys/sysctl.h>
#endif

mproc__child *mproc__posix_child_new(void)
{
    mproc__child *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c);
        return NULL;
    }
    c->sentinel = -1;
    c->channel = -1;
    return c;
}

int mproc__posix_pidfd(pid_t pid)
{
#if MPROC_HAVE_PIDFD
    /* pidfds are close-on-exec by definition. */
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

int mproc__posix_have_pidfd(void)
{
    static atomic_int have = -1;
    int v = atomic_load(&have);
    if (v < 0) {
        int fd = mproc__posix_pidfd(getpid());
        v = fd >= 0;
        if (fd >= 0)
            close(fd);
        /* Out of descriptors says nothing about the kernel: ask again. */
        if (fd >= 0 || (errno != EMFILE && errno != ENFILE))
            atomic_store(&have, v);
    }
    return v;
}

int mproc__posix_status_code(int status)
{
    if (WIFSIGNALED(status))
        return -WTERMSIG(status);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

/* Whether pid is a zombie, where the OS tells about any process: 1, 0, or
 * -1 when it cannot say. */
static int is_zombie(pid_t pid)
{
#if MPROC_HAVE_PROCFS
    char path[64], buf[512], state = '?';
    const char *rp;
    int fd;
    ssize_t n;
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
        n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n > 0) {
            buf[n] = '\0';
            if ((rp = strrchr(buf, ')')) && rp[1] == ' ')
                state = rp[2];
            return state == 'Z' || state == 'X';
        }
    }
#endif
#if MPROC_HAVE_KINFO_PROC_P_STAT
    {
        struct kinfo_proc info;
        size_t len = sizeof info;
        int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PID, (int)pid};
        if (sysctl(mib, 4, &info, &len, NULL, 0) == 0 && len == sizeof info)
            return info.kp_proc.p_stat == SZOMB;
    }
#endif
    (void)pid;
    return -1;
}

int mproc__posix_pid_alive(pid_t pid)
{
    if (pid <= 0 || (kill(pid, 0) != 0 && errno != EPERM))
        return 0;
    /* A dead process stays a zombie until its parent reaps it: kill() still
     * finds it. */
    switch (is_zombie(pid)) {
    case 1: return 0;
    case 0: return 1;
    default: break;
    }
#if MPROC_HAVE_WAITID
    {
        /* Our own child we can look at without reaping it (its owner still
         * collects the status). */
        siginfo_t info;
        memset(&info, 0, sizeof info);
        if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid)
            return 0;
    }
#endif
    return 1;
}

int mproc__plat_pid_alive(long pid) { return mproc__posix_pid_alive((pid_t)pid); }

mproc__handle mproc__plat_child_channel(mproc__child *c) { return c->channel; }

mproc__handle mproc__plat_child_sentinel(mproc__child *c) { return c->sentinel; }

long mproc__plat_child_pid(mproc__child *c) { return c->reap_thread ? (long)getpid() : (long)c->pid; }

/* Collects the end of c if it has ended; caller holds c->mu.  block 1: the
 * sentinel fired, so the end is certain and waitpid may block briefly (a
 * descriptor can read EOF a moment before the exiting process is
 * reapable); 0: only if reapable now; SENTINEL_SAYS: 1 if the sentinel
 * has fired, else 0. */
#define SENTINEL_SAYS 2
static void try_reap(mproc__child *c, int block)
{
    if (c->reap_thread) {
        if (block != 1 && mproc__posix_wait_readable(c->sentinel, 0) != 1)
            return;
        c->code = c->reap_thread(c);
        c->done = 1;
    } else {
        int status;
        pid_t r;
        /* SENTINEL_SAYS: a sentinel that fired means the child ends now:
         * an EOF pipe closes a moment before its process is reapable, and a
         * caller told by the sentinel (mproc_process_sentinel, mproc_wait)
         * then joins with a timeout of 0, which must find it ended.  A
         * signal asks without it: a spawned child that dropped its
         * bootstrap channel (the sentinel without pidfd) before its
         * mproc_init may run on, and is killed rather than waited for. */
        if (block == SENTINEL_SAYS)
            block = c->sentinel >= 0 && mproc__posix_wait_readable(c->sentinel, 0) == 1;
        do
            r = waitpid(c->pid, &status, block ? 0 : WNOHANG);
        while (r < 0 && errno == EINTR);
        if (r == c->pid) {
            c->code = mproc__posix_status_code(status);
            c->done = 1;
        } else if (r < 0 && errno == ECHILD) {
            /* Someone else reaped it (SIGCHLD set to SIG_IGN): its status is
             * lost, which CPython reports as 255 too. */
            c->code = 255;
            c->done = 1;
        }
    }
}

int mproc__plat_child_wait(mproc__child *c, double timeout, int *code)
{
    int fired;

    pthread_mutex_lock(&c->mu);
    if (!c->done && timeout == 0)
        try_reap(c, SENTINEL_SAYS);
    if (c->done) {
        *code = c->code;
        pthread_mutex_unlock(&c->mu);
        return 0;
    }
    pthread_mutex_unlock(&c->mu);
    if (timeout == 0)
        return MPROC_ETIMEDOUT;
    /* Wait outside the lock so other threads may poll or signal meanwhile. */
    fired = mproc__posix_wait_readable(c->sentinel, timeout);
    if (fired < 0)
        return fired;
    pthread_mutex_lock(&c->mu);
    if (!c->done && fired)
        try_reap(c, 1);
    fired = c->done;
    if (fired)
        *code = c->code;
    pthread_mutex_unlock(&c->mu);
    return fired ? 0 : MPROC_ETIMEDOUT;
}

int mproc__plat_kill_pid(long pid, int kill_it)
{
    if (pid <= 0)
        return mproc__error(MPROC_EINVAL);
    if (kill((pid_t)pid, kill_it ? SIGKILL : SIGTERM) != 0 && errno != ESRCH)
        return mproc__sys_error(errno);
    return 0;
}

int mproc__plat_child_signal(mproc__child *c, int kill_it)
{
    int rc = 0;
    if (c->reap_thread)
        return MPROC_ENOTSUP;
    pthread_mutex_lock(&c->mu);
    if (!c->done)
        try_reap(c, 0);
    /* Signal only an unreaped pid: once reaped, the number may be reused. */
    if (!c->done)
        rc = mproc__plat_kill_pid(c->pid, kill_it);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void mproc__plat_child_close_channel(mproc__child *c)
{
    pthread_mutex_lock(&c->mu);
    if (c->channel >= 0) {
        if (c->sentinel == c->channel)
            c->sentinel = -1; /* poll() skips it: a timed wait just times out */
        close(c->channel);
        c->channel = -1;
    }
    pthread_mutex_unlock(&c->mu);
}

void mproc__plat_child_free(mproc__child *c)
{
    if (!c)
        return;
    if (c->release_thread)
        c->release_thread(c);
    if (c->sentinel >= 0 && c->sentinel != c->channel)
        close(c->sentinel);
    if (c->channel >= 0)
        close(c->channel);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* ---- exit notification for a reaping process (the forkserver) ---------- */

static int events_pipe[2] = {-1, -1};

static void on_sigchld(int sig)
{
    int saved = errno;
    char b = 0;
    (void)sig;
    (void)!write(events_pipe[1], &b, 1);
    errno = saved;
}

mproc__handle mproc__plat_child_events(void)
{
    struct sigaction sa;
    if (events_pipe[0] >= 0)
        return events_pipe[0];
    if (mproc__posix_pipe(events_pipe, 1) != 0)
        return MPROC__NO_HANDLE;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigchld;
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    return events_pipe[0];
}

int mproc__plat_reap_any(long *pid, int *code)
{
    char drain[64];
    int status;
    pid_t r;

    while (events_pipe[0] >= 0 && read(events_pipe[0], drain, sizeof drain) > 0)
        ;
    do
        r = waitpid(-1, &status, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r <= 0)
        return r == 0 || errno == ECHILD ? 0 : mproc__sys_error(errno);
    *pid = (long)r;
    *code = mproc__posix_status_code(status);
    return 1;
}

/* In a child of fork_detached: the notification belongs to the parent. */
void mproc__posix_child_events_reset(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    if (events_pipe[0] >= 0) {
        close(events_pipe[0]);
        close(events_pipe[1]);
        events_pipe[0] = events_pipe[1] = -1;
    }
}
