/*
 * Identity, time, environment and process exit on Windows, and the start
 * methods Windows lacks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "win.h"

#include <tlhelp32.h>

mproc_os mproc__plat_os(void) { return MPROC_OS_WINDOWS; }

/* Windows has no fork(), so neither fork nor forkserver exist here
 * (CPython's multiprocessing offers only spawn on Windows). */
int mproc__plat_method_available(mproc_method m) { return m == MPROC_SPAWN || m == MPROC_THREAD; }

int mproc__plat_fork(mproc__child **out, mproc__fork_fn fn, void *ud)
{
    (void)fn;
    (void)ud;
    *out = NULL;
    return mproc__error(MPROC_ENOTSUP);
}

int mproc__plat_fork_detached(long *pid, mproc__fork_fn fn, void *ud)
{
    (void)fn;
    (void)ud;
    *pid = 0;
    return mproc__error(MPROC_ENOTSUP);
}

/* No forkserver on Windows, so nothing reaps its own children. */
mproc__handle mproc__plat_child_events(void) { return MPROC__NO_HANDLE; }

int mproc__plat_reap_any(long *pid, int *code)
{
    (void)pid;
    (void)code;
    return mproc__error(MPROC_ENOTSUP);
}

size_t mproc__plat_keep_only(mproc__handle *hs, size_t n)
{
    (void)hs;
    return n; /* a spawned child inherits nothing it was not given */
}

/* Console Ctrl-C reaches every process attached to the console. */
void mproc__plat_ignore_interrupt(int ignore) { (void)SetConsoleCtrlHandler(NULL, ignore ? TRUE : FALSE); }

/* Only fork needs it, and Windows has no fork. */
long mproc__plat_thread_count(void) { return -1; }

double mproc__plat_now(void)
{
    LARGE_INTEGER count, freq;
    /* Both calls always succeed on Windows XP and later. */
    QueryPerformanceCounter(&count);
    QueryPerformanceFrequency(&freq);
    return (double)count.QuadPart / (double)freq.QuadPart;
}

long mproc__plat_getpid(void) { return (long)GetCurrentProcessId(); }

/* Windows keeps no parent pointer a process can ask for without
 * NtQueryInformationProcess (an undocumented-ish ntdll call); the toolhelp
 * snapshot records each process's creator.  The parent may have exited and
 * its pid been reused: Windows, unlike POSIX, never re-parents, so the value
 * is only the pid the creator had.  0 when not found. */
long mproc__plat_getppid(void)
{
    DWORD self = GetCurrentProcessId(), parent = 0;
    HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
    PROCESSENTRY32W entry;
    if (snap == INVALID_HANDLE_VALUE)
        return 0;
    entry.dwSize = sizeof entry;
    for (BOOL more = Process32FirstW(snap, &entry); more; more = Process32NextW(snap, &entry)) {
        if (entry.th32ProcessID == self) {
            parent = entry.th32ParentProcessID;
            break;
        }
    }
    CloseHandle(snap);
    return (long)parent;
}

int mproc__plat_cpu_count(void)
{
    /* GetSystemInfo counts only the calling thread's processor group (at
     * most 64 CPUs); this counts all groups. */
    DWORD n = GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);
    DWORD_PTR mine = 0, system = 0;
    int in_mask = 0;

    /* The affinity mask (start /affinity, a job object) describes one
     * processor group: trusted only where there is one group.  It is 0
     * for a process whose threads span several groups. */
    if (GetActiveProcessorGroupCount() == 1 && GetProcessAffinityMask(GetCurrentProcess(), &mine, &system) &&
        mine != 0) {
        for (; mine; mine &= mine - 1)
            in_mask++;
        if ((DWORD)in_mask < n || n == 0)
            n = (DWORD)in_mask;
    }
    return n > 0 ? (int)n : 1;
}

const char *mproc__plat_getenv(const char *name) { return getenv(name); }

/* The C runtime keeps its own copy of the environment (read by getenv) next
 * to the process environment block (read by CreateProcess and
 * GetEnvironmentStrings): clear the variable in both. */
void mproc__plat_unsetenv(const char *name)
{
    size_t len = strlen(name);
    char *assignment = malloc(len + 2);
    if (assignment != NULL) {
        memcpy(assignment, name, len);
        memcpy(assignment + len, "=", 2); /* "NAME=" removes NAME */
        (void)_putenv(assignment);
        free(assignment);
    }
    (void)SetEnvironmentVariableA(name, NULL);
}

/* ExitProcess, not exit(): the target has run and the core has applied the
 * exit rule, so the program's atexit handlers are not this child's to run.
 * stdio buffers are not flushed by ExitProcess, hence fflush first. */
void mproc__plat_exit_now(int code)
{
    fflush(NULL);
    ExitProcess((UINT)code);
}
