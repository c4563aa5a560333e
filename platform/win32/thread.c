/*
 * Thread children on Windows (the thread start method).
 */
#include <process.h>
#include <stdlib.h>

#include "win.h"

typedef struct {
    mproc__thread_fn fn;
    void *ud;
} thread_start;

/* The int the target returns becomes the thread's exit code, which
 * GetExitCodeThread hands back as the same 32 bits. */
static unsigned __stdcall thread_main(void *arg)
{
    thread_start start = *(thread_start *)arg;
    free(arg);
    return (unsigned)start.fn(start.ud);
}

int mproc__plat_thread_start(mproc__child **out, mproc__thread_fn fn, void *ud)
{
    thread_start *start = malloc(sizeof *start);
    /* Allocated before the thread starts, so that once the target runs
     * nothing can fail any more. */
    mproc__child *c = mproc__win_child_new(NULL, GetCurrentProcessId(), NULL, 1);
    uintptr_t thread;
    *out = NULL;
    if (start == NULL || c == NULL) {
        free(start);
        free(c);
        return mproc__error(MPROC_ENOMEM);
    }
    start->fn = fn;
    start->ud = ud;
    /* _beginthreadex, not CreateThread: it sets up the C runtime's
     * per-thread state for the target.  The handle it returns is not
     * inheritable (no security attributes). */
    thread = _beginthreadex(NULL, 0, thread_main, start, 0, NULL);
    if (thread == 0) {
        DWORD err = GetLastError();
        free(start);
        free(c);
        return mproc__sys_error((long)err);
    }
    c->handle = (HANDLE)thread;
    *out = c;
    return 0;
}
