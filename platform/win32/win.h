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

/* pipe.c: a connected named pipe.  server_mode PIPE_ACCESS_DUPLEX or
 * _INBOUND, client_access what the client end may do, server_flags and
 * client_flags 0 or FILE_FLAG_OVERLAPPED.  Only the client end may be
 * inheritable. */
int mproc__win_pipe_pair(DWORD server_mode, DWORD client_access, DWORD server_flags, DWORD client_flags,
                         int client_inheritable, HANDLE *server, HANDLE *client);

/* wait.c: whether a pipe error means the peer has gone: the other end was
 * closed (ERROR_BROKEN_PIPE; also what a dead child's end gives), is being
 * closed (ERROR_NO_DATA, on write) or was never connected. */
int mproc__win_peer_gone(DWORD err);

/* wait.c: milliseconds for a wait of seconds (>= 0), rounded up so the wait
 * is never shorter than asked; capped below INFINITE. */
DWORD mproc__win_ms(double seconds);

/* wait.c: WaitForMultipleObjects (any one) for timeout seconds (< 0 forever,
 * 0 poll).  Never returns WAIT_TIMEOUT before timeout has passed by the
 * monotonic clock, which a single wait may do because its millisecond
 * count is only as precise as the system timer tick. */
DWORD mproc__win_wait(const HANDLE *hs, DWORD n, double timeout);

/* ---- attrs.c ----------------------------------------------------------- */

/* A UTF-8 string as a new wide one in *out (free it); 0, or MPROC_ENOMEM,
 * MPROC_ESYS for invalid UTF-8 (*out NULL). */
int mproc__win_wide(const char *utf8, wchar_t **out);

#endif /* MPROC_WIN_H */
