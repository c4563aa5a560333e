/*
 * Waiting on Windows: for sentinels (process and thread handles), and for
 * pipes to become readable.
 *
 * Windows cannot wait for a pipe to become readable.  PeekNamedPipe tells
 * whether data is there now; otherwise a zero-byte overlapped read, which
 * completes when data arrives or the writer goes without consuming
 * anything, gives an event to wait on (as CPython's connection.wait and
 * libuv's pipe reads do).
 */
#include <math.h>
#include <string.h>

#include "win.h"

int mproc__win_peer_gone(DWORD err)
{
    return err == ERROR_BROKEN_PIPE || err == ERROR_NO_DATA || err == ERROR_PIPE_NOT_CONNECTED;
}

DWORD mproc__win_ms(double seconds)
{
    double ms = ceil(seconds * 1000.0);
    return ms >= (double)(INFINITE - 1) ? INFINITE - 1 : (DWORD)ms;
}

DWORD mproc__win_wait(const HANDLE *hs, DWORD n, double timeout)
{
    double deadline = mproc__plat_now() + timeout, left = timeout;
    for (;;) {
        DWORD ms = timeout < 0 ? INFINITE : left <= 0 ? 0 : mproc__win_ms(left);
        DWORD r = WaitForMultipleObjects(n, hs, FALSE, ms);
        if (r != WAIT_TIMEOUT || timeout <= 0)
            return r;
        /* The wait ends on a timer tick, which can come a little before the
         * requested number of milliseconds: wait out the rest. */
        left = deadline - mproc__plat_now();
        if (left <= 0)
            return WAIT_TIMEOUT;
    }
}

/* A zero-byte read pending on a pipe; its event is set once the pipe is
 * readable.  An unused watch has no event. */
typedef struct {
    HANDLE pipe;
    OVERLAPPED ov;
    int pending;
    char none[1];
} pipe_watch;

static int is_pipe(HANDLE h) { return GetFileType(h) == FILE_TYPE_PIPE; }

/* 1 when a read on pipe h would not block (data, or the writer gone). */
static int pipe_ready(HANDLE h)
{
    DWORD avail = 0, err;
    if (PeekNamedPipe(h, NULL, 0, NULL, &avail, NULL))
        return avail > 0;
    err = GetLastError();
    return mproc__win_peer_gone(err) ? 1 : mproc__sys_error((long)err);
}

/* 1 when h is ready: a readable pipe, a signalled sentinel.  Polling a
 * sentinel consumes nothing: process and thread handles stay signalled. */
static int handle_ready(HANDLE h) { return is_pipe(h) ? pipe_ready(h) : WaitForSingleObject(h, 0) == WAIT_OBJECT_0; }

static int watch_start(pipe_watch *w, HANDLE pipe)
{
    DWORD err;
    memset(w, 0, sizeof *w);
    w->pipe = pipe;
    w->ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (w->ov.hEvent == NULL)
        return mproc__sys_error((long)GetLastError());
    if (ReadFile(pipe, w->none, 0, NULL, &w->ov))
        return 0; /* completed at once: the event is set */
    err = GetLastError();
    if (err == ERROR_IO_PENDING) {
        w->pending = 1;
        return 0;
    }
    if (mproc__win_peer_gone(err)) {
        SetEvent(w->ov.hEvent); /* end of file is readable too */
        return 0;
    }
    CloseHandle(w->ov.hEvent);
    w->ov.hEvent = NULL;
    return mproc__sys_error((long)err);
}

static void watch_stop(pipe_watch *w)
{
    DWORD done;
    if (w->pending) {
        CancelIoEx(w->pipe, &w->ov);
        GetOverlappedResult(w->pipe, &w->ov, &done, TRUE);
    }
    if (w->ov.hEvent != NULL)
        CloseHandle(w->ov.hEvent);
    w->ov.hEvent = NULL;
    w->pending = 0;
}

/* Polls every handle, sets ready[] (if given); the count ready or an error. */
static int poll_all(const HANDLE *hs, size_t n, int *ready)
{
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        int r = handle_ready(hs[i]);
        if (r < 0)
            return r;
        if (ready != NULL)
            ready[i] = r;
        count += r;
    }
    return count;
}

/* Waits until some handle is ready: pipes through watches, sentinels
 * directly.  The count ready (0 after timeout), or an error.  Completion of
 * a watch does not prove the data is still there (another reader may have
 * taken it), so readiness is always decided by poll_all. */
static int wait_any(const HANDLE *hs, size_t n, double timeout, int *ready)
{
    double deadline = mproc__plat_now() + timeout;
    for (;;) {
        pipe_watch watches[MAXIMUM_WAIT_OBJECTS];
        HANDLE waits[MAXIMUM_WAIT_OBJECTS];
        size_t started = 0;
        int rc = poll_all(hs, n, ready);
        DWORD r;

        if (rc != 0 || timeout == 0)
            return rc;
        for (size_t i = 0; i < n && rc == 0; i++) {
            waits[i] = hs[i];
            if (is_pipe(hs[i]) && (rc = watch_start(&watches[started], hs[i])) == 0)
                waits[i] = watches[started++].ov.hEvent;
        }
        r = rc == 0 ? mproc__win_wait(waits, (DWORD)n, timeout) : WAIT_FAILED;
        if (rc == 0 && r == WAIT_FAILED)
            rc = mproc__sys_error((long)GetLastError());
        for (size_t i = 0; i < started; i++)
            watch_stop(&watches[i]);
        if (rc != 0)
            return rc;
        if (r == WAIT_TIMEOUT || (timeout > 0 && (timeout = deadline - mproc__plat_now()) <= 0))
            timeout = 0; /* one last poll */
    }
}

int mproc__plat_readable(mproc__handle h, double timeout)
{
    HANDLE pipe = (HANDLE)h;
    int ready;
    int rc = wait_any(&pipe, 1, timeout, &ready);
    return rc < 0 ? rc : ready;
}

int mproc__plat_handles_are_fds(void) { return 0; }

int mproc__plat_wait_handles(const mproc__handle *hs, size_t n, double timeout, int *ready)
{
    HANDLE handles[MAXIMUM_WAIT_OBJECTS];
    if (n == 0 || n > MAXIMUM_WAIT_OBJECTS)
        return mproc__error(MPROC_EINVAL);
    for (size_t i = 0; i < n; i++) {
        /* MPROC__NO_HANDLE is (HANDLE)-1, GetCurrentProcess()'s
         * pseudo-handle: waiting on it would wait for ourselves. */
        if (hs[i] == MPROC__NO_HANDLE || hs[i] == 0)
            return mproc__error(MPROC_EINVAL);
        handles[i] = (HANDLE)hs[i];
    }
    return wait_any(handles, n, timeout, ready);
}

void mproc__plat_sleep(double seconds)
{
    if (seconds > 0)
        Sleep(mproc__win_ms(seconds));
}
