/*
 * Shared by the files of platform/posix/.  Include first: it sets the
 * feature macros the C11 build needs to see POSIX and OS extensions, and
 * brings the MPROC_HAVE_* results of cmake/features.cmake.  Every
 * cross-file symbol of this folder is declared here, with the file that
 * defines it.
 */
#ifndef MPROC_POSIX_H
#define MPROC_POSIX_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pipe2, SOCK_CLOEXEC, memfd_create, posix_spawn extensions */
#endif
#ifndef _DARWIN_C_SOURCE
#define _DARWIN_C_SOURCE
#endif

#include <pthread.h>
#include <signal.h>
#include <sys/types.h>
#include <time.h>

#include "mproc_config.h"
#include "internal.h"

/* ---- child.c ----------------------------------------------------------- */

struct mproc__child {
    pid_t pid;      /* 0 for a thread */
    int sentinel;   /* pidfd, EOF pipe, or the thread's done pipe */
    int channel;    /* spawn: parent's end of the bootstrap socketpair */
    pthread_mutex_t mu;
    int done, code; /* reaped, and how it ended */
    /* A thread: joins it and returns its result (thread.c), and releases
     * what it shares with the running thread. */
    int (*reap_thread)(mproc__child *c);
    void (*release_thread)(mproc__child *c);
    pthread_t thread;
    void *box;
};

/* A zeroed child with no descriptors; NULL when out of memory. */
mproc__child *mproc__posix_child_new(void);
/* A pidfd for pid, or -1 where the OS has none (or it failed). */
int mproc__posix_pidfd(pid_t pid);
/* Whether pidfds work here (probed once). */
int mproc__posix_have_pidfd(void);
/* A wait status the way CPython reports it: code, or -signal. */
int mproc__posix_status_code(int status);
/* Whether process pid still runs: it exists and is not a zombie waiting to
 * be reaped (seen through /proc or sysctl where the OS offers them, else
 * only for our own children). */
int mproc__posix_pid_alive(pid_t pid);
/* In a child of fork_detached: default SIGCHLD, the parent's notification
 * pipe closed. */
void mproc__posix_child_events_reset(void);

/* ---- lock.c ------------------------------------------------------------ */

/* Where a descriptor cannot be created close-on-exec atomically (no pipe2,
 * SOCK_CLOEXEC, MSG_CMSG_CLOEXEC), it is created and marked with this lock
 * held; fork (through pthread_atfork) and a spawn that lists the
 * descriptors to close take it too, so no child is born between the two
 * steps (libuv's cloexec_lock).  A plain mutex: each holder keeps it for a
 * couple of system calls.  Never take the global lock or log while holding
 * it. */
void mproc__posix_fd_lock(void);
void mproc__posix_fd_unlock(void);
/* The clock timed waits count on: monotonic where condition variables can
 * be set to it, else the realtime clock. */
#if MPROC_HAVE_CONDATTR_SETCLOCK
#define MPROC__WAIT_CLOCK CLOCK_MONOTONIC
#else
#define MPROC__WAIT_CLOCK CLOCK_REALTIME
#endif
/* The absolute time timeout seconds from now on MPROC__WAIT_CLOCK. */
struct timespec mproc__posix_deadline(double timeout);
/* Sleeps a short, growing slice while polling (50 us doubling to 10 ms:
 * a long wait wakes 100 times a second, under 1% of a CPU). */
void mproc__posix_backoff(unsigned *round);

/* ---- pipe.c ------------------------------------------------------------ */

/* A pipe / a socketpair, close-on-exec, non-blocking when asked, and never
 * raising SIGPIPE where the OS lets a descriptor say so.  0 or -1 (errno). */
int mproc__posix_pipe(int fds[2], int nonblock);
int mproc__posix_socketpair(int fds[2], int nonblock);
/* Sets FD_CLOEXEC; returns 0 or -1. */
int mproc__posix_cloexec(int fd);

/* ---- io.c -------------------------------------------------------------- */

/* Around a write or send that may raise SIGPIPE where neither MSG_NOSIGNAL
 * nor the descriptor can prevent it: blocks it in this thread, then
 * consumes the one the call raised (raised: it failed with EPIPE) and
 * restores the mask.  errno is preserved. */
void mproc__posix_sigpipe_block(sigset_t *old);
void mproc__posix_sigpipe_unblock(const sigset_t *old, int raised);

/* ---- wait.c ------------------------------------------------------------ */

/* Waits until fd is readable or timeout (seconds; < 0 forever) passes:
 * 1 readable, 0 timed out, negative MPROC error. */
int mproc__posix_wait_readable(int fd, double timeout);
/* Waits for events on one descriptor: 1 ready, 0 timed out, or an error. */
int mproc__posix_wait_io(int fd, short events, double timeout);

/* ---- handles.c --------------------------------------------------------- */

/* Calls fn(fd, ud) for every open descriptor >= lowfd, read from
 * /proc/self/fd or /dev/fd where they list every descriptor, else by
 * probing each number up to the limit. */
void mproc__posix_each_fd(int lowfd, void (*fn)(int fd, void *ud), void *ud);

/* ---- thread.c ---------------------------------------------------------- */

/* Threads started through mproc__plat_thread_start and still running (a
 * lower bound for the thread count where the OS does not tell it). */
long mproc__posix_threads_live(void);

/* ---- spawn.c ----------------------------------------------------------- */

/* The saved argv and executable path. */
char *const *mproc__posix_argv(void);
const char *mproc__posix_exe(void);

/* A pipe whose write end fds[1] only this process holds: close-on-exec and
 * closed in every fork child (lifeline.c).  0 or an error.  Close the
 * write end with mproc__posix_parent_only_close. */
int mproc__posix_parent_only_pipe(int fds[2]);
void mproc__posix_parent_only_close(int fd);
/* Lists fd, which this process holds, among the descriptors closed in the
 * child of each of its forks (lifeline.c).  0 or MPROC_ENOMEM. */
int mproc__posix_keep_from_forks(int fd);

#endif /* MPROC_POSIX_H */
