/*
 * Children that die with their parent: a job object.
 *
 * This process creates one job, the first time a child asks for it, with
 * JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE, and keeps its only handle
 * (non-inheritable, never closed): when this process dies, however it
 * dies, the system closes that handle and kills every process assigned to
 * the job.  Each such child is assigned right after CreateProcess, while
 * it can do nothing but wait for its bootstrap record (if this process
 * dies before that, the child reads end of file there and exits).
 *
 * JOB_OBJECT_LIMIT_SILENT_BREAKAWAY_OK keeps the job to the children that
 * asked: their own children are not put in it, so a grandchild dies with
 * its own parent only if that parent asked, as on POSIX.
 *
 * Jobs nest since Windows 8.  On Windows 7 a process already in a job (a
 * CI runner's, a service manager's) cannot be assigned to another one:
 * the start then fails with MPROC_ESYS (ERROR_ACCESS_DENIED) and a log
 * message rather than leaving a child that would outlive its parent.
 * Wine implements jobs and kill-on-close (see the report of
 * tests/test_die_with_parent.c under ci/windows.sh).
 */
#include "win.h"

static INIT_ONCE job_once = INIT_ONCE_STATIC_INIT;
static HANDLE job;     /* set once by create_job, then only read */
static DWORD job_error; /* why it could not be created */

static BOOL CALLBACK create_job(PINIT_ONCE once, PVOID param, PVOID *context)
{
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits;
    HANDLE h = CreateJobObjectW(NULL, NULL); /* default security: not inheritable */
    (void)once;
    (void)param;
    (void)context;
    if (h == NULL) {
        job_error = GetLastError();
        return TRUE;
    }
    ZeroMemory(&limits, sizeof limits);
    limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE | JOB_OBJECT_LIMIT_SILENT_BREAKAWAY_OK;
    if (!SetInformationJobObject(h, JobObjectExtendedLimitInformation, &limits, sizeof limits)) {
        job_error = GetLastError();
        CloseHandle(h);
        return TRUE;
    }
    job = h;
    return TRUE;
}

int mproc__plat_lifeline_open(mproc__handle *keep, mproc__handle *give)
{
    *keep = *give = MPROC__NO_HANDLE;
    (void)InitOnceExecuteOnce(&job_once, create_job, NULL, NULL);
    return job != NULL ? 0 : mproc__sys_error((long)job_error);
}

int mproc__plat_lifeline_bind(mproc__child *c)
{
    DWORD err;
    (void)InitOnceExecuteOnce(&job_once, create_job, NULL, NULL);
    if (job == NULL)
        return mproc__sys_error((long)job_error);
    if (AssignProcessToJobObject(job, c->handle))
        return 0;
    err = GetLastError();
    mproc__log(MPROC_LOG_ERROR,
               "cannot tie child %lu to this process's life: AssignProcessToJobObject failed (error %lu; "
               "Windows 7 allows no job inside another job)",
               (unsigned long)c->pid, (unsigned long)err);
    return mproc__sys_error((long)err);
}

void mproc__plat_lifeline_close(mproc__handle keep)
{
    (void)keep; /* the job stays: it holds every other such child */
}

int mproc__plat_lifeline_watch(mproc__handle give, long parent_pid)
{
    (void)parent_pid;
    (void)give; /* the job does it: nothing runs in the child */
    return 0;
}
