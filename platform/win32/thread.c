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

/* SetThreadDescription came with Windows 10 1607 (older systems and some
 * Wine versions lack it): looked up, never linked against. */
typedef HRESULT(WINAPI *set_description_fn)(HANDLE thread, PCWSTR description);

void mproc__plat_set_name(const char *name, int whole_process)
{
    HMODULE kernel = GetModuleHandleW(L"kernel32.dll");
    set_description_fn set_description = NULL;
    wchar_t wide[MPROC__NAME_MAX];

    (void)whole_process; /* Windows names threads only */
    if (kernel)
        /* Through void (*)(void): GetProcAddress's FARPROC has another
         * signature, and a direct cast draws -Wcast-function-type. */
        set_description = (set_description_fn)(void (*)(void))GetProcAddress(kernel, "SetThreadDescription");
    if (!set_description)
        return;
    /* A UTF-8 name of under MPROC__NAME_MAX bytes has fewer UTF-16
     * units than that: it fits. */
    if (MultiByteToWideChar(CP_UTF8, 0, name, -1, wide, (int)(sizeof wide / sizeof wide[0])) == 0)
        return;
    (void)set_description(GetCurrentThread(), wide);
}
