/*
 * Started children (processes and threads) on Windows: waiting, exit codes,
 * termination.
 */
#include <stdlib.h>

#include "win.h"

/* TerminateProcess makes the child exit with the code it is given.  Like
 * CPython (TERMINATE = 0x10000 in popen_spawn_win32.py), terminate and kill
 * use codes no ordinary exit produces, 0x10000 + the POSIX signal number,
 * so that the exit code can be reported as -SIGTERM or -SIGKILL. */
#define TERMINATED_BASE 0x10000u
#define SIGNAL_TERM 15
#define SIGNAL_KILL 9

int mproc__plat_kill_pid(long pid, int kill)
{
    HANDLE h = OpenProcess(PROCESS_TERMINATE, FALSE, (DWORD)pid);
    int rc = 0;
    if (!h)
        return mproc__sys_error((long)GetLastError());
    if (!TerminateProcess(h, TERMINATED_BASE + (kill ? SIGNAL_KILL : SIGNAL_TERM)))
        rc = mproc__sys_error((long)GetLastError());
    CloseHandle(h);
    return rc;
}

mproc__child *mproc__win_child_new(HANDLE handle, DWORD pid, HANDLE channel, int is_thread)
{
    mproc__child *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->handle = handle;
    c->channel = channel;
    c->pid = pid;
    c->is_thread = is_thread;
    InitializeSRWLock(&c->lock);
    return c;
}

int mproc__plat_pid_alive(long pid)
{
    /* An ended process's object lives on while a handle to it is open, and
     * is then signalled; one that is gone fails to open. */
    HANDLE h = OpenProcess(SYNCHRONIZE, FALSE, (DWORD)pid);
    int alive;
    if (h == NULL)
        return GetLastError() == ERROR_ACCESS_DENIED; /* exists, not ours to open */
    alive = WaitForSingleObject(h, 0) == WAIT_TIMEOUT;
    CloseHandle(h);
    return alive;
}

mproc__handle mproc__plat_child_channel(mproc__child *c)
{
    return c->channel != NULL ? (mproc__handle)c->channel : MPROC__NO_HANDLE;
}

mproc__handle mproc__plat_child_sentinel(mproc__child *c) { return (mproc__handle)c->handle; }

/* A thread child runs in this process, whose pid it reports. */
long mproc__plat_child_pid(mproc__child *c) { return (long)c->pid; }

static int process_code(DWORD raw)
{
    if (raw == TERMINATED_BASE + SIGNAL_TERM || raw == TERMINATED_BASE + SIGNAL_KILL)
        return -(int)(raw - TERMINATED_BASE);
    return (int)raw;
}

/* Reads the exit code of an ended child once, under the child's lock, so
 * concurrent waiters all report the same value. */
static int child_reap(mproc__child *c, int *code)
{
    int rc = 0;
    AcquireSRWLockExclusive(&c->lock);
    if (!c->done) {
        DWORD raw;
        BOOL ok = c->is_thread ? GetExitCodeThread(c->handle, &raw) : GetExitCodeProcess(c->handle, &raw);
        if (ok) {
            /* A thread's code is its target's int return value, kept whole. */
            c->code = c->is_thread ? (int)raw : process_code(raw);
            c->done = 1;
        } else {
            rc = mproc__sys_error((long)GetLastError());
        }
    }
    if (rc == 0 && code != NULL)
        *code = c->code;
    ReleaseSRWLockExclusive(&c->lock);
    return rc;
}

int mproc__plat_child_wait(mproc__child *c, double timeout, int *code)
{
    /* Several threads may wait on one handle at once: the handle stays
     * signalled, so every waiter wakes. */
    DWORD r = mproc__win_wait(&c->handle, 1, timeout);
    if (r == WAIT_TIMEOUT)
        return MPROC_ETIMEDOUT;
    if (r != WAIT_OBJECT_0)
        return mproc__sys_error((long)GetLastError());
    return child_reap(c, code);
}

static int child_ended(const mproc__child *c) { return WaitForSingleObject(c->handle, 0) == WAIT_OBJECT_0; }

int mproc__plat_child_signal(mproc__child *c, int kill)
{
    if (c->is_thread)
        return mproc__error(MPROC_ENOTSUP);
    /* An ended child keeps the code it exited with. */
    if (child_ended(c))
        return 0;
    if (!TerminateProcess(c->handle, TERMINATED_BASE + (kill ? SIGNAL_KILL : SIGNAL_TERM))) {
        DWORD err = GetLastError();
        /* A process that is exiting refuses with ERROR_ACCESS_DENIED; it
         * has ended by then as far as the caller is concerned. */
        if (child_ended(c))
            return 0;
        return mproc__sys_error((long)err);
    }
    return 0;
}

/* Closing a running thread's handle detaches it: it runs on and releases
 * its start record itself (thread.c). */
void mproc__plat_child_close_channel(mproc__child *c)
{
    if (c->channel != NULL) {
        CloseHandle(c->channel);
        c->channel = NULL;
    }
}

void mproc__plat_child_free(mproc__child *c)
{
    if (c == NULL)
        return;
    CloseHandle(c->handle);
    if (c->channel != NULL)
        CloseHandle(c->channel);
    free(c);
}
