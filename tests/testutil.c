#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
/* after windows.h: PROCESS_MEMORY_COUNTERS */
#include <psapi.h>
#else
#include <dirent.h>
#include <errno.h>
#if defined(__APPLE__)
#include <sys/sysctl.h>
#include <sys/types.h>
#endif
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#endif

int tu_argc;
char **tu_argv;
static unsigned counter;
static unsigned skipped;

static const char *current_test(void)
{
    CU_pTest t = CU_get_current_test();
    return t && t->pName ? t->pName : "?";
}

static const char *current_suite(void)
{
    CU_pSuite s = CU_get_current_suite();
    return s && s->pName ? s->pName : "?";
}

void tu_skip(const char *reason)
{
    skipped++;
    printf("\n    SKIPPED: %s/%s: %s\n", current_suite(), current_test(), reason);
    fflush(stdout);
}

void tu_skip_part(const char *what, const char *reason)
{
    printf("\n    SKIPPED: %s/%s (%s): %s\n", current_suite(), current_test(), what, reason);
    fflush(stdout);
}

int tu_skip_program(const char *name, const char *reason)
{
    const char *base = name;
    for (const char *p = name; *p; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    printf("SKIPPED: %s (every test): %s\n", base, reason);
    return TU_SKIP_CODE;
}

int tu_main(int argc, char **argv, tu_register_fn reg)
{
    int rc;
    unsigned failures, run;

    tu_argc = argc;
    tu_argv = argv;
    /* Unbuffered: when CTest kills a hung test, its output still names the
     * test it hung in (a pipe is otherwise fully buffered). */
    setvbuf(stdout, NULL, _IONBF, 0);
    if (getenv("MPROC_TEST_SKIP"))
        return tu_skip_program(argc > 0 ? argv[0] : "test", getenv("MPROC_TEST_SKIP"));
    rc = mproc_init(argc, argv);
    if (rc != 0) {
        fprintf(stderr, "mproc_init failed: %s\n", mproc_strerror(rc));
        return 2;
    }
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    reg();
    CU_basic_set_mode(CU_BRM_VERBOSE);
    printf("start method under test: %s\n", mproc_method_name(tu_method()));
    CU_basic_run_tests();
    failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    if (CU_get_number_of_suites_failed() > 0)
        failures++;
    run = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    if (skipped)
        printf("%u of %u tests skipped (see the SKIPPED lines above)\n", skipped, run);
    if (failures)
        return 1;
    return run > 0 && skipped == run ? TU_SKIP_CODE : 0;
}

void tu_add_suite(const char *name, CU_TestInfo *tests)
{
    /* MPROC_TEST_ONLY=substring runs only the tests whose name holds it
     * (for chasing one test under a sanitizer or in a loop). */
    const char *only = getenv("MPROC_TEST_ONLY");
    CU_pSuite s = CU_add_suite(name, NULL, NULL);
    for (CU_TestInfo *t = tests; s && t->pName; t++)
        if (!only || strstr(t->pName, only))
            CU_add_test(s, t->pName, t->pTestFunc);
}

mproc_method tu_method(void) { return mproc_get_start_method(); }

mproc_method tu_process_method(void) { return tu_method() == MPROC_THREAD ? MPROC_SPAWN : tu_method(); }

#if MPROC_TEST_SHARED_LIBRARY && defined(_WIN32)
/* Linked with the shared library, whose internal symbols are hidden: the
 * monotonic clocks themselves. */
double tu_now(void)
{
    LARGE_INTEGER frequency, count;
    QueryPerformanceFrequency(&frequency);
    QueryPerformanceCounter(&count);
    return (double)count.QuadPart / (double)frequency.QuadPart;
}
#elif MPROC_TEST_SHARED_LIBRARY
double tu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
#else
double tu_now(void) { return mproc__plat_now(); }
#endif

int tu_cycles(int n)
{
    const char *v = getenv("MPROC_TEST_SCALE");
    long div = v ? strtol(v, NULL, 10) : 1;
    if (div <= 1)
        return n;
    printf("(%d cycles scaled to %ld by MPROC_TEST_SCALE=%ld) ", n, n / div > 0 ? n / div : 1, div);
    return n / div > 0 ? (int)(n / div) : 1;
}

double tu_cpu_seconds(void)
{
#ifdef _WIN32
    FILETIME created, exited, kernel, user;
    ULARGE_INTEGER k, u;
    if (!GetProcessTimes(GetCurrentProcess(), &created, &exited, &kernel, &user))
        return 0;
    k.LowPart = kernel.dwLowDateTime;
    k.HighPart = kernel.dwHighDateTime;
    u.LowPart = user.dwLowDateTime;
    u.HighPart = user.dwHighDateTime;
    return (double)(k.QuadPart + u.QuadPart) * 1e-7;
#else
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
#endif
}

mproc_process *tu_start(mproc_target_fn fn, mproc_args *args)
{
    mproc_process *p = mproc_process_new(NULL, fn, args);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL_FATAL(mproc_process_start(p), 0);
    return p;
}

int tu_finish(mproc_process *p, double timeout)
{
    int code = -1000;
    if (mproc_process_join(p, timeout) == 0)
        mproc_process_exitcode(p, &code);
    mproc_process_free(p);
    return code;
}

void tu_setenv(const char *name, const char *value)
{
#ifdef _WIN32
    _putenv_s(name, value ? value : "");
#else
    if (value)
        setenv(name, value, 1);
    else
        unsetenv(name);
#endif
}

void tu_gate_name(char name[64])
{
#ifdef _WIN32
    snprintf(name, 64, "Local\\mproc-test-%lu-%u", (unsigned long)GetCurrentProcessId(), ++counter);
#else
    snprintf(name, 64, "/mproc-test-%ld-%u", (long)getpid(), ++counter);
#endif
}

void tu_temp_path(char path[256], const char *tag)
{
#ifdef _WIN32
    char dir[MAX_PATH];
    GetTempPathA(sizeof dir, dir);
    snprintf(path, 256, "%smproc-%s-%lu-%u", dir, tag, (unsigned long)GetCurrentProcessId(), ++counter);
#else
    const char *dir = getenv("TMPDIR");
    snprintf(path, 256, "%s/mproc-%s-%ld-%u", dir && *dir ? dir : "/tmp", tag, (long)getpid(), ++counter);
#endif
}

#ifdef _WIN32

int tu_gate_create(const char *name)
{
    /* Named kernel semaphores live while a handle is open: keep this one
     * until the test destroys the gate. */
    HANDLE h = CreateSemaphoreA(NULL, 0, 1 << 20, name);
    return h ? 0 : -1;
}

int tu_gate_wait(const char *name, double timeout)
{
    HANDLE h = OpenSemaphoreA(SYNCHRONIZE, FALSE, name);
    DWORD r;
    if (!h)
        return -1;
    r = WaitForSingleObject(h, timeout < 0 ? INFINITE : (DWORD)(timeout * 1000));
    CloseHandle(h);
    return r == WAIT_OBJECT_0 ? 0 : -1;
}

int tu_gate_release(const char *name)
{
    HANDLE h = OpenSemaphoreA(SEMAPHORE_MODIFY_STATE, FALSE, name);
    BOOL ok;
    if (!h)
        return -1;
    ok = ReleaseSemaphore(h, 1, NULL);
    CloseHandle(h);
    return ok ? 0 : -1;
}

void tu_gate_destroy(const char *name) { (void)name; /* closed with the process */ }

int tu_open_handle_count(void)
{
    DWORD n = 0;
    GetProcessHandleCount(GetCurrentProcess(), &n);
    return (int)n;
}

int tu_zombie_count(void) { return 0; /* Windows has no zombies */ }

/* Mapped views (file mappings) in this process's address space. */
double tu_process_cpu_seconds(long pid)
{
    (void)pid;
    return -1; /* no /proc */
}

int tu_mapping_count(void)
{
    MEMORY_BASIC_INFORMATION info;
    const char *p = NULL;
    int n = 0;
    while (VirtualQuery(p, &info, sizeof info) == sizeof info) {
        n += info.State == MEM_COMMIT && info.Type == MEM_MAPPED;
        p = (const char *)info.BaseAddress + info.RegionSize;
    }
    return n;
}

long tu_peak_memory_kib(void)
{
    /* K32GetProcessMemoryInfo: kernel32's own entry (Windows 7 on), so no psapi. */
    PROCESS_MEMORY_COUNTERS pmc;
    if (!K32GetProcessMemoryInfo(GetCurrentProcess(), &pmc, sizeof pmc))
        return -1;
    return (long)(pmc.PeakWorkingSetSize / 1024);
}

/* Every mapped view of this process is a file mapping: the library's
 * segments are all of them. */
int tu_segment_count(void) { return tu_mapping_count(); }

int tu_pid_alive(long pid)
{
    HANDLE h = OpenProcess(SYNCHRONIZE, FALSE, (DWORD)pid);
    int alive;
    if (!h)
        return 0;
    alive = WaitForSingleObject(h, 0) == WAIT_TIMEOUT;
    CloseHandle(h);
    return alive;
}

#else

/* glibc guards its table of sem_open mappings with a lock ThreadSanitizer
 * cannot see; serialising open/close here keeps gate use race-report free
 * when thread children use gates too. */
static pthread_mutex_t sem_table_lock = PTHREAD_MUTEX_INITIALIZER;

static sem_t *gate_open(const char *name, int create)
{
    sem_t *s;
    pthread_mutex_lock(&sem_table_lock);
    s = create ? sem_open(name, O_CREAT | O_EXCL, 0600, 0) : sem_open(name, 0);
    pthread_mutex_unlock(&sem_table_lock);
    return s;
}

static void gate_close(sem_t *s)
{
    pthread_mutex_lock(&sem_table_lock);
    sem_close(s);
    pthread_mutex_unlock(&sem_table_lock);
}

int tu_gate_create(const char *name)
{
    sem_t *s = gate_open(name, 1);
    if (s == SEM_FAILED)
        return -1;
    gate_close(s);
    return 0;
}

int tu_gate_wait(const char *name, double timeout)
{
    sem_t *s = gate_open(name, 0);
    struct timespec ts;
    int r;
    if (s == SEM_FAILED)
        return -1;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)timeout;
    ts.tv_nsec += (long)((timeout - (double)(time_t)timeout) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
#if defined(__APPLE__)
    /* No sem_timedwait: try in 1 ms slices until the deadline. */
    {
        struct timespec slice = {0, 1000000L};
        double end = tu_now() + timeout;
        while ((r = sem_trywait(s)) != 0 && (errno == EAGAIN || errno == EINTR) && (timeout < 0 || tu_now() < end))
            nanosleep(&slice, NULL);
        (void)ts;
    }
#else
    do
        r = timeout < 0 ? sem_wait(s) : sem_timedwait(s, &ts);
    while (r != 0 && errno == EINTR);
#endif
    gate_close(s);
    return r == 0 ? 0 : -1;
}

int tu_gate_release(const char *name)
{
    sem_t *s = gate_open(name, 0);
    int r;
    if (s == SEM_FAILED)
        return -1;
    r = sem_post(s);
    gate_close(s);
    return r;
}

void tu_gate_destroy(const char *name) { sem_unlink(name); }

int tu_open_handle_count(void)
{
    int n = 0;
    for (int fd = 0; fd < 4096; fd++)
        if (fcntl(fd, F_GETFD) >= 0)
            n++;
    return n;
}

long tu_peak_memory_kib(void)
{
    char line[256];
    long kib = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    fclose(f);
    return kib;
}

double tu_process_cpu_seconds(long pid)
{
    char path[64], buf[1024], *p;
    unsigned long user = 0, sys = 0;
    long hz = sysconf(_SC_CLK_TCK);
    FILE *f;
    size_t n;
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    if (hz <= 0 || !(f = fopen(path, "r")))
        return -1;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    /* After "(name)": the state, ten fields, then utime and stime. */
    if (!(p = strrchr(buf, ')')) ||
        sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &user, &sys) != 2)
        return -1;
    return (double)(user + sys) / (double)hz;
}

int tu_mapping_count(void)
{
    int n = 0;
    FILE *f = fopen("/proc/self/maps", "r");
    int c;
    if (!f)
        return -1;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

int tu_segment_count(void)
{
    /* platform/posix/shm.c names them: memfd_create("mproc"), or shm_open
     * of "/mproc-<pid>-..." (unlinked, so "(deleted)" follows). */
    char line[4096];
    int n = 0;
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        n += strstr(line, "/memfd:mproc ") != NULL || strstr(line, "/mproc-") != NULL;
    fclose(f);
    return n;
}

#if defined(__APPLE__)
/* macOS has no /proc: the kernel's process table through sysctl. */
static int proc_info(pid_t pid, struct kinfo_proc *info)
{
    int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PID, (int)pid};
    size_t len = sizeof *info;
    return sysctl(mib, 4, info, &len, NULL, 0) == 0 && len == sizeof *info ? 0 : -1;
}

int tu_zombie_count(void)
{
    int mib[3] = {CTL_KERN, KERN_PROC, KERN_PROC_ALL};
    size_t len = 0;
    struct kinfo_proc *all;
    int zombies = 0;
    if (sysctl(mib, 3, NULL, &len, NULL, 0) != 0 || !(all = malloc(len + 16 * sizeof *all)))
        return -1;
    len += 16 * sizeof *all;
    if (sysctl(mib, 3, all, &len, NULL, 0) != 0) {
        free(all);
        return -1;
    }
    for (size_t i = 0; i < len / sizeof *all; i++)
        zombies += all[i].kp_eproc.e_ppid == getpid() && all[i].kp_proc.p_stat == SZOMB;
    free(all);
    return zombies;
}

int tu_pid_alive(long pid)
{
    struct kinfo_proc info;
    if (kill((pid_t)pid, 0) != 0)
        return 0;
    return proc_info((pid_t)pid, &info) != 0 || info.kp_proc.p_stat != SZOMB;
}
#else
/* Linux: /proc/<pid>/stat's state field; elsewhere -1 (unknown). */
static char proc_state(long pid, long *ppid)
{
    char path[64], buf[512], state = '?';
    FILE *f;
    const char *rp;
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    if (!(f = fopen(path, "r")))
        return '?';
    if (fgets(buf, sizeof buf, f) && (rp = strrchr(buf, ')')) && sscanf(rp + 1, " %c %ld", &state, ppid) != 2)
        state = '?';
    fclose(f);
    return state;
}

int tu_zombie_count(void)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int zombies = 0;
    long me = (long)getpid();
    if (!d || access("/proc/self/stat", R_OK) != 0) {
        if (d)
            closedir(d);
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        long ppid = 0;
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        zombies += proc_state(strtol(e->d_name, NULL, 10), &ppid) == 'Z' && ppid == me;
    }
    closedir(d);
    return zombies;
}

int tu_pid_alive(long pid)
{
    long ppid;
    if (kill((pid_t)pid, 0) != 0)
        return 0;
    return proc_state(pid, &ppid) != 'Z';
}
#endif /* __APPLE__ */

#endif /* _WIN32 */
