/*
 * Declarations shared by the files of platform/win32/.  Not part of the
 * platform contract (core/platform.h): the core never sees this header.
 */
#ifndef MPROC_WIN_H
#define MPROC_WIN_H

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
/* Windows 7: GetActiveProcessorCount, PROC_THREAD_ATTRIBUTE_HANDLE_LIST. */
#if !defined(_WIN32_WINNT) || _WIN32_WINNT < 0x0601
#undef _WIN32_WINNT
#define _WIN32_WINNT 0x0601
#endif
#include <windows.h>

#include "internal.h"
#include "platform.h"

/* The environment variable that hands a spawned child its bootstrap
 * channel: the decimal value of an inherited pipe handle. */
#define MPROC__WIN_BOOTSTRAP_VAR "MPROC_BOOTSTRAP"

/* A started child.  handle is the sentinel: the process handle (spawn) or
 * the thread handle (thread); both become signalled when the child ends. */
struct mproc__child {
    HANDLE handle;
    HANDLE channel; /* parent's end of the bootstrap pipe, or NULL */
    DWORD pid;
    int is_thread;
    SRWLOCK lock; /* guards done and code */
    int done;     /* the exit code below is known */
    int code;
};

/* child.c: a child owning handle and channel (both closed by child_free).
 * NULL when out of memory; the caller still owns the handles then. */
mproc__child *mproc__win_child_new(HANDLE handle, DWORD pid, HANDLE channel, int is_thread);

/* io.c: WaitForMultipleObjects (any one) for timeout seconds (< 0 forever,
 * 0 poll).  Never returns WAIT_TIMEOUT before timeout has passed by the
 * monotonic clock, which a single wait may do because its millisecond
 * count is only as precise as the system timer tick. */
DWORD mproc__win_wait(const HANDLE *hs, DWORD n, double timeout);

#endif /* MPROC_WIN_H */
