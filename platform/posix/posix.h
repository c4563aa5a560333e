/*
 * Shared by the files of platform/posix/.  Include first: it sets the
 * feature macros the C11 build needs to see POSIX and OS extensions.
 */
#ifndef MPROC_POSIX_H
#define MPROC_POSIX_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pipe2, SOCK_CLOEXEC, close_range, posix_spawn extensions */
#endif
#ifndef _DARWIN_C_SOURCE
#define _DARWIN_C_SOURCE
#endif

#include <pthread.h>
#include <sys/types.h>
#include <time.h>

#include "internal.h"

enum { CHILD_PROCESS, CHILD_FORKSERVER, CHILD_THREAD };

typedef struct thread_box thread_box;

struct mproc__child {
    int kind;
    pid_t pid;
    int sentinel;   /* pidfd, EOF pipe, forkserver status socket, thread pipe */
    int channel;    /* spawn: parent's end of the bootstrap socketpair */
    pthread_mutex_t mu;
    int done, code; /* reaped, and how it ended */
    pthread_t thread;
    thread_box *box;
};

/* A zeroed child of kind with no descriptors; NULL when out of memory. */
mproc__child *mproc__posix_child_new(int kind);
/* A pidfd for pid (Linux >= 5.3), or -1 where the OS has none. */
int mproc__posix_pidfd(pid_t pid);
/* Whether pidfds work here (probed once). */
int mproc__posix_have_pidfd(void);
/* The clock timed waits count on: monotonic, except on macOS, which cannot
 * set a condition variable's clock. */
#if defined(__APPLE__)
#define MPROC__WAIT_CLOCK CLOCK_REALTIME
#else
#define MPROC__WAIT_CLOCK CLOCK_MONOTONIC
#endif
/* The absolute time timeout seconds from now on MPROC__WAIT_CLOCK. */
struct timespec mproc__posix_deadline(double timeout);
/* Encodes a wait status the way CPython reports it: code, or -signal. */
int mproc__posix_status_code(int status);
/* Closes every descriptor >= lowfd (in a child about to run a target). */
void mproc__posix_close_from(int lowfd);
/* Sets FD_CLOEXEC; returns 0 or -1. */
int mproc__posix_cloexec(int fd);
/* Waits until fd is readable or timeout (seconds; < 0 forever) passes:
 * 1 readable, 0 timed out, negative MPROC error. */
int mproc__posix_wait_readable(int fd, double timeout);
/* The saved argv and executable path for spawn (spawn.c). */
char *const *mproc__posix_argv(void);
const char *mproc__posix_exe(void);
/* Forkserver client state is per process: drop it in a forked child. */
void mproc__posix_forkserver_after_fork(void);
/* Sends buf with descriptors attached to its first byte (SCM_RIGHTS). */
int mproc__posix_send_fds(int sock, const void *buf, size_t len, const int *fds, size_t nfds);
/* Receives one frame (u32 length + payload) and the descriptors sent with
 * it (at most cap, close-on-exec; extras are closed).  0, MPROC_ECLOSED at
 * EOF before the frame, MPROC_ETOOBIG, MPROC_EBROKEN (torn frame). */
int mproc__posix_recv_frame_fds(int sock, void **data, size_t *len, size_t max, int *fds, size_t *nfds, size_t cap);
/* In a new child: renumbers fds[0..n) to 3..3+n and closes all others above
 * the std streams.  Returns n. */
size_t mproc__posix_keep_only(int *fds, size_t n);

#endif /* MPROC_POSIX_H */
