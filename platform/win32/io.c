/*
 * Byte channels (pipe handles) and waiting on sentinels, on Windows.
 */
#include <math.h>

#include "win.h"

/* ReadFile/WriteFile take a DWORD count; larger transfers go in pieces. */
#define IO_CHUNK ((DWORD)1 << 30)

/* The ways a pipe reports a peer that has gone: the other end was closed
 * (ERROR_BROKEN_PIPE; also what a dead child's end gives), is being closed
 * (ERROR_NO_DATA, on write) or was never connected / disconnected. */
static int io_error(DWORD err)
{
    if (err == ERROR_BROKEN_PIPE || err == ERROR_NO_DATA || err == ERROR_PIPE_NOT_CONNECTED)
        return mproc__error(MPROC_ECLOSED);
    return mproc__sys_error((long)err);
}

int mproc__plat_write_all(mproc__handle h, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        DWORD want = len > IO_CHUNK ? IO_CHUNK : (DWORD)len, done = 0;
        if (!WriteFile((HANDLE)h, p, want, &done, NULL))
            return io_error(GetLastError());
        p += done;
        len -= done;
    }
    return 0;
}

int mproc__plat_read_all(mproc__handle h, void *buf, size_t len)
{
    char *p = buf;
    while (len > 0) {
        DWORD want = len > IO_CHUNK ? IO_CHUNK : (DWORD)len, done = 0;
        if (!ReadFile((HANDLE)h, p, want, &done, NULL))
            return io_error(GetLastError());
        /* A successful empty read is end of file on a file handle; on a
         * byte pipe it could only come from a zero-length write, which
         * write_all never makes. */
        if (done == 0)
            return mproc__error(MPROC_ECLOSED);
        p += done;
        len -= done;
    }
    return 0;
}

void mproc__plat_close(mproc__handle h)
{
    if (h != MPROC__NO_HANDLE && h != 0)
        CloseHandle((HANDLE)h);
}

/* Milliseconds for a wait of seconds (> 0), rounded up so the wait is never
 * shorter than asked; capped below INFINITE, which would mean forever. */
static DWORD timeout_ms(double seconds)
{
    double ms = ceil(seconds * 1000.0);
    return ms >= (double)(INFINITE - 1) ? INFINITE - 1 : (DWORD)ms;
}

DWORD mproc__win_wait(const HANDLE *hs, DWORD n, double timeout)
{
    double deadline = mproc__plat_now() + timeout, left = timeout;
    for (;;) {
        DWORD ms = timeout < 0 ? INFINITE : left <= 0 ? 0 : timeout_ms(left);
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

int mproc__plat_wait_handles(const mproc__handle *hs, size_t n, double timeout, int *ready)
{
    HANDLE handles[MAXIMUM_WAIT_OBJECTS];
    int count = 0;
    if (n == 0 || n > MAXIMUM_WAIT_OBJECTS)
        return mproc__error(MPROC_EINVAL);
    for (size_t i = 0; i < n; i++) {
        /* MPROC__NO_HANDLE is (HANDLE)-1, GetCurrentProcess()'s
         * pseudo-handle: waiting on it would wait for ourselves. */
        if (hs[i] == MPROC__NO_HANDLE || hs[i] == 0)
            return mproc__error(MPROC_EINVAL);
        handles[i] = (HANDLE)hs[i];
    }
    DWORD r = mproc__win_wait(handles, (DWORD)n, timeout);
    if (r == WAIT_FAILED)
        return mproc__sys_error((long)GetLastError());
    /* WaitForMultipleObjects names only the first signalled handle; the
     * others are found by polling.  Sentinels (process and thread handles)
     * stay signalled, so polling does not consume anything. */
    for (size_t i = 0; i < n; i++) {
        int is_ready = r != WAIT_TIMEOUT && WaitForSingleObject(handles[i], 0) == WAIT_OBJECT_0;
        if (ready != NULL)
            ready[i] = is_ready;
        count += is_ready;
    }
    return count;
}
