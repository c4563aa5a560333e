/*
 * Transfers on byte channels (pipe handles) on Windows.
 *
 * Every transfer passes an OVERLAPPED: on the overlapped pipes of
 * mproc__plat_pipe that is what lets it be given a timeout; on the
 * synchronous bootstrap channel the call simply completes before returning.
 * A read that times out is cancelled; a write that times out is not (see
 * inflight below).
 */
#include <stdlib.h>
#include <string.h>

#include "win.h"

/* ReadFile/WriteFile take a DWORD count; larger transfers go in pieces. */
#define IO_CHUNK ((DWORD)1 << 30)

static int io_error(DWORD err)
{
    return mproc__win_peer_gone(err) ? mproc__error(MPROC_ECLOSED) : mproc__sys_error((long)err);
}

/* Each thread keeps one event for its transfers: creating and closing one
 * per call would double the system calls of a small read.  Fiber-local
 * storage, because its destructor closes the event when the thread ends. */
static INIT_ONCE event_once = INIT_ONCE_STATIC_INIT;
static DWORD event_slot = FLS_OUT_OF_INDEXES;

static void WINAPI event_close(void *event)
{
    if (event != NULL)
        CloseHandle(event);
}

static BOOL CALLBACK event_slot_init(INIT_ONCE *once, void *param, void **context)
{
    (void)once;
    (void)param;
    (void)context;
    event_slot = FlsAlloc(event_close);
    return TRUE;
}

/* This thread's event (manual reset, as GetOverlappedResult expects), or
 * NULL with the error set. */
static HANDLE thread_event(void)
{
    HANDLE event;
    InitOnceExecuteOnce(&event_once, event_slot_init, NULL, NULL);
    if (event_slot == FLS_OUT_OF_INDEXES)
        return NULL;
    if ((event = FlsGetValue(event_slot)) == NULL) {
        event = CreateEventW(NULL, TRUE, FALSE, NULL);
        if (event != NULL && !FlsSetValue(event_slot, event)) {
            CloseHandle(event);
            event = NULL;
        }
    }
    return event;
}

/* Hands this thread's event over to a transfer that outlives the call. */
static void thread_event_give_away(void) { FlsSetValue(event_slot, NULL); }

/* Starts a ReadFile or WriteFile on h with ov (its event set).  0 and
 * *pending, or an error. */
static int io_start(HANDLE h, int write, void *buf, DWORD len, OVERLAPPED *ov, int *pending)
{
    DWORD err;
    /* ReadFile/WriteFile reset the event themselves. */
    if (write ? WriteFile(h, buf, len, NULL, ov) : ReadFile(h, buf, len, NULL, ov)) {
        *pending = 0;
        return 0;
    }
    if ((err = GetLastError()) != ERROR_IO_PENDING)
        return io_error(err);
    *pending = 1;
    return 0;
}

/* The outcome of a started transfer once it has ended: 0 and *done, or an
 * error (ERROR_OPERATION_ABORTED for a cancelled one: MPROC_ETIMEDOUT). */
static int io_result(HANDLE h, OVERLAPPED *ov, DWORD *done)
{
    DWORD err;
    if (GetOverlappedResult(h, ov, done, TRUE))
        return 0;
    err = GetLastError();
    return err == ERROR_OPERATION_ABORTED ? MPROC_ETIMEDOUT : io_error(err);
}

/* One ReadFile, or one WriteFile that waits as long as it takes, of up to
 * len bytes.  A read waits up to timeout and is then cancelled (it has
 * taken nothing: a pipe read completes as soon as any data is there).  Sets
 * *done; returns 0, MPROC_ETIMEDOUT (nothing moved in time), MPROC_ECLOSED
 * or MPROC_ESYS. */
static int io_once(HANDLE h, int write, void *buf, DWORD len, double timeout, DWORD *done)
{
    OVERLAPPED ov;
    int pending, rc;

    memset(&ov, 0, sizeof ov);
    *done = 0;
    if ((ov.hEvent = thread_event()) == NULL)
        return mproc__sys_error((long)GetLastError());
    if ((rc = io_start(h, write, buf, len, &ov, &pending)) != 0)
        return rc;
    if (pending && mproc__win_wait(&ov.hEvent, 1, write ? -1 : timeout) != WAIT_OBJECT_0)
        CancelIoEx(h, &ov);
    /* A read cancelled after its wait may still have completed: the result
     * says what it got either way. */
    rc = io_result(h, &ov, done);
    return rc == MPROC_ETIMEDOUT && *done > 0 ? 0 : rc;
}

int mproc__plat_write_all(mproc__handle h, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        DWORD done;
        int rc = io_once((HANDLE)h, 1, (void *)p, len > IO_CHUNK ? IO_CHUNK : (DWORD)len, -1, &done);
        if (rc != 0)
            return rc;
        p += done;
        len -= done;
    }
    return 0;
}

int mproc__plat_read_all(mproc__handle h, void *buf, size_t len)
{
    char *p = buf;
    while (len > 0) {
        DWORD done;
        int rc = io_once((HANDLE)h, 0, p, len > IO_CHUNK ? IO_CHUNK : (DWORD)len, -1, &done);
        if (rc != 0)
            return rc;
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

long mproc__plat_read_timed(mproc__handle h, void *buf, size_t len, double timeout)
{
    DWORD done;
    int rc;
    if (len == 0)
        return 0;
    rc = io_once((HANDLE)h, 0, buf, len > IO_CHUNK ? IO_CHUNK : (DWORD)len, timeout, &done);
    if (rc == MPROC_ETIMEDOUT)
        return 0;
    if (rc != 0)
        return rc;
    return done > 0 ? (long)done : mproc__error(MPROC_ECLOSED);
}

/* A timed write still pending when its time ran out.  Windows cannot tell
 * how much of a cancelled pipe write the reader had already taken (Wine
 * reports none even when it took some), so such a write is never cancelled:
 * it stays in flight with its own copy of the bytes and its own event, and
 * the next timed write on the handle, which offers the same bytes again
 * since it was told none went, waits for it instead of sending them twice. */
typedef struct inflight {
    HANDLE h;
    OVERLAPPED ov;
    DWORD len;
    struct inflight *next;
    unsigned char data[];
} inflight;

static SRWLOCK inflight_lock = SRWLOCK_INIT;
static inflight *inflights;

static inflight *inflight_take(HANDLE h)
{
    inflight **p, *f = NULL;
    AcquireSRWLockExclusive(&inflight_lock);
    for (p = &inflights; *p != NULL; p = &(*p)->next) {
        if ((*p)->h == h) {
            f = *p;
            *p = f->next;
            break;
        }
    }
    ReleaseSRWLockExclusive(&inflight_lock);
    return f;
}

static void inflight_put(inflight *f)
{
    AcquireSRWLockExclusive(&inflight_lock);
    f->next = inflights;
    inflights = f;
    ReleaseSRWLockExclusive(&inflight_lock);
}

static void inflight_free(inflight *f)
{
    CloseHandle(f->ov.hEvent);
    free(f);
}

/* Writes up to len bytes of buf, waiting up to timeout; leaves the write in
 * flight when the time runs out (returns 0 then). */
static long write_or_leave(HANDLE h, const void *buf, size_t len, double timeout)
{
    DWORD n = len > IO_CHUNK ? IO_CHUNK : (DWORD)len, done = 0;
    inflight *f = malloc(sizeof *f + n);
    int pending = 0, rc;

    if (f == NULL)
        return mproc__error(MPROC_ENOMEM);
    memset(f, 0, sizeof *f);
    f->h = h;
    f->len = n;
    memcpy(f->data, buf, n);
    if ((f->ov.hEvent = thread_event()) == NULL)
        rc = mproc__sys_error((long)GetLastError());
    else if ((rc = io_start(h, 1, f->data, n, &f->ov, &pending)) == 0 && pending &&
             mproc__win_wait(&f->ov.hEvent, 1, timeout) == WAIT_TIMEOUT) {
        thread_event_give_away();
        inflight_put(f);
        return 0;
    }
    if (rc == 0)
        rc = io_result(h, &f->ov, &done);
    free(f); /* the event stays this thread's */
    return rc != 0 ? rc : (long)done;
}

long mproc__plat_write_timed(mproc__handle h, const void *buf, size_t len, double timeout)
{
    inflight *f;
    DWORD done = 0, r;
    int rc = 0;

    if (len == 0)
        return 0;
    if (timeout < 0) {
        rc = io_once((HANDLE)h, 1, (void *)buf, len > IO_CHUNK ? IO_CHUNK : (DWORD)len, -1, &done);
        return rc != 0 ? rc : (long)done;
    }
    if ((f = inflight_take((HANDLE)h)) == NULL)
        return write_or_leave((HANDLE)h, buf, len, timeout);
    if (len < f->len || memcmp(buf, f->data, f->len) != 0) {
        inflight_put(f);
        return mproc__errorf(MPROC_EBROKEN, "a timed write on a pipe was not followed by the same bytes");
    }
    r = mproc__win_wait(&f->ov.hEvent, 1, timeout);
    if (r == WAIT_TIMEOUT) {
        inflight_put(f);
        return 0;
    }
    rc = r == WAIT_OBJECT_0 ? io_result(f->h, &f->ov, &done) : mproc__sys_error((long)GetLastError());
    inflight_free(f);
    return rc != 0 ? rc : (long)done;
}

void mproc__plat_close(mproc__handle h)
{
    inflight *f;
    if (h == MPROC__NO_HANDLE || h == 0)
        return;
    /* A write left in flight must end before its memory goes: handles to
     * the pipe in other processes would keep it pending past CloseHandle. */
    while ((f = inflight_take((HANDLE)h)) != NULL) {
        DWORD done;
        CancelIoEx(f->h, &f->ov);
        GetOverlappedResult(f->h, &f->ov, &done, TRUE);
        inflight_free(f);
    }
    CloseHandle((HANDLE)h);
}
