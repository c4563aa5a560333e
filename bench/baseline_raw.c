/*
 * baseline_raw.c -- raw-syscall baselines for mproc-bench.
 *
 * For each benchmark figure this program measures "the best simple code a
 * user would write" with the operating system's own primitives (fork,
 * posix_spawn, pthread, pipes, process-shared mutexes and semaphores,
 * CreateProcessW), so that mproc's and CPython's figures can be set against
 * an honest floor.  It is not a weakened baseline: no extra copies, no
 * extra system calls beyond what the figure itself needs.
 *
 * One run measures ONE figure with ONE parameter set, prints ONE line of
 * JSON on stdout and exits 0.  The driver (mproc-bench) runs this program
 * once per (figure, round), interleaving these runs with mproc's and
 * CPython's runs of the same figure, so that drift of the machine (clock
 * scaling, other load) affects all implementations alike.
 *
 * Command line:
 *   baseline_raw FIGURE [--size BYTES] [--rss MIB] [--reps N]
 *   baseline_raw --child-exit
 *       exits 0 at once; the child of the posix_spawn / createprocess
 *       figures.
 *
 *   FIGURE       unit      default reps   options
 *   fork         s         200            --rss
 *   posix_spawn  s         50             --rss
 *   pthread      s         2000           --rss
 *   pipe         msgs/s    see below      --size (body bytes, default 0)
 *   pipe_rtt     s         20000
 *   mutex_uncontended  s   2000000
 *   mutex_pingpong     s   20000
 *   createprocess  s       20             --rss        (Windows only)
 *
 *   --rss MIB   before measuring, malloc that many MiB and write every
 *               4096th byte, so the parent has that much resident memory.
 *   --size N    pipe body size in bytes (0 .. 4294967291); the default
 *               message count is max(50, min(500000, 50e6 / (N + 64))).
 *   --reps N    number of timed operations (messages for "pipe"), >= 1.
 *   An option that does not apply to the chosen figure is an error.
 *
 * Output (one line on stdout; keys that do not apply are left out):
 *   {"figure": "...", "impl": "...", "size": N, "rss_mib": N,
 *    "unit": "...", "value": V, "mb_per_s": V, "reps": N}
 *   "size" is given by pipe (body bytes) and pipe_rtt (always 64);
 *   "rss_mib" by fork, posix_spawn, pthread and createprocess;
 *   "mb_per_s" (body bytes / 1e6 / s) by pipe only.
 *   "value" is seconds per operation for unit "s", messages per second
 *   for unit "msgs/s".
 * On an OS where a figure cannot run (POSIX figures on Windows,
 * createprocess elsewhere, a primitive the system lacks):
 *   {"figure": "...", "skipped": "reason"}   and exit 0.
 * Bad arguments: message on stderr, exit 2.  A failure while measuring:
 * message on stderr, nothing on stdout, exit 1.  Diagnostics only ever go
 * to stderr.
 *
 * Timing: clock_gettime(CLOCK_MONOTONIC) on POSIX, QueryPerformanceCounter
 * on Windows.  Each figure does one untimed warm-up of its operation, then
 * times the block of reps operations; value = block time / reps (the mean).
 * "pipe" is timed from the first write of the first counted message to the
 * moment waitpid() reports the consumer's exit.
 *
 * Every child is reaped and every descriptor closed, also on error paths.
 *
 * Build (POSIX):
 *   cc -std=c11 -O2 -D_GNU_SOURCE bench/baseline_raw.c -o baseline_raw -lpthread
 * Build (Windows, MinGW-w64):
 *   x86_64-w64-mingw32-gcc -std=c11 -O2 bench/baseline_raw.c -o baseline_raw.exe
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "baseline_util.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
extern char **environ;
#endif

/* ------------------------------------------------------------------ */
/* Options, output, timing, resident-memory ballast (all platforms)   */
/* ------------------------------------------------------------------ */

#define EXIT_USAGE 2
#define MAX_REPS 1000000000000LL  /* 1e12: keeps every counter far from overflow */
#define MAX_SIZE 4294967291LL     /* UINT32_MAX - 4: prefix + body fits 32 bits */
#define RTT_MSG 64

enum { OPT_SIZE = 1u, OPT_RSS = 2u };

typedef struct {
    long long size;     /* -1: not given */
    long long rss_mib;  /* -1: not given */
    long long reps;     /* -1: not given */
} opts_t;

typedef int (*figure_fn)(const char *self, const opts_t *o, long long reps);

typedef struct {
    const char *name;
    unsigned options;     /* OPT_* accepted by this figure */
    long long def_reps;   /* 0: computed (pipe) */
    figure_fn run;        /* NULL: skipped on this OS */
    const char *skip_reason;
} figure_t;

static const char *g_figure = "";

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s FIGURE [--size BYTES] [--rss MIB] [--reps N]\n"
            "       %s --child-exit\n"
            "FIGURE: fork posix_spawn pthread pipe pipe_rtt mutex_uncontended\n"
            "        mutex_pingpong createprocess\n",
            prog, prog);
}

static void flush_or_die(void)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "baseline_raw: writing stdout failed\n");
        exit(EXIT_FAILURE);
    }
}

static void emit_skipped(const char *figure, const char *reason)
{
    printf("{\"figure\": \"%s\", \"skipped\": \"%s\"}\n", figure, reason);
    flush_or_die();
}

/* size, rss_mib < 0: key left out; extra_key NULL: no extra key. */
static void emit(const char *impl, long long size, long long rss_mib,
                 const char *unit, double value,
                 const char *extra_key, double extra, long long reps)
{
    printf("{\"figure\": \"%s\", \"impl\": \"%s\"", g_figure, impl);
    if (size >= 0)
        printf(", \"size\": %lld", size);
    if (rss_mib >= 0)
        printf(", \"rss_mib\": %lld", rss_mib);
    printf(", \"unit\": \"%s\", \"value\": %.9g", unit, value);
    if (extra_key != NULL)
        printf(", \"%s\": %.9g", extra_key, extra);
    printf(", \"reps\": %lld}\n", reps);
    flush_or_die();
}

#ifdef _WIN32
typedef LARGE_INTEGER stamp_t;

static stamp_t now(void)
{
    LARGE_INTEGER t;
    QueryPerformanceCounter(&t);
    return t;
}

static double seconds_between(stamp_t a, stamp_t b)
{
    LARGE_INTEGER f;
    QueryPerformanceFrequency(&f);
    return (double)(b.QuadPart - a.QuadPart) / (double)f.QuadPart;
}
#else
typedef struct timespec stamp_t;

static stamp_t now(void)
{
    struct timespec t;
    if (clock_gettime(CLOCK_MONOTONIC, &t) != 0) {
        perror("baseline_raw: clock_gettime");
        exit(EXIT_FAILURE);
    }
    return t;
}

static double seconds_between(stamp_t a, stamp_t b)
{
    return (double)(b.tv_sec - a.tv_sec) +
           (double)(b.tv_nsec - a.tv_nsec) * 1e-9;
}
#endif

#ifdef _WIN32
/* ------------------------------------------------------------------ */
/* Windows                                                            */
/* ------------------------------------------------------------------ */

#define WPATH_MAX 32768

static int run_createprocess(const char *self, const opts_t *o, long long reps)
{
    static wchar_t exe[WPATH_MAX];
    static wchar_t cmd_template[WPATH_MAX + 32];
    static wchar_t cmd[WPATH_MAX + 32];
    static const wchar_t flag[] = L" --child-exit";
    size_t exe_len, cmd_len, i;
    DWORD n;
    long long r;
    stamp_t t0, t1;
    double elapsed;

    (void)self;
    n = GetModuleFileNameW(NULL, exe, WPATH_MAX);
    if (n == 0 || n >= WPATH_MAX) {
        fprintf(stderr, "baseline_raw: GetModuleFileNameW failed (%lu)\n",
                (unsigned long)GetLastError());
        return -1;
    }
    exe_len = (size_t)n;
    /* "exe" --child-exit */
    cmd_len = 0;
    cmd_template[cmd_len++] = L'"';
    for (i = 0; i < exe_len; i++)
        cmd_template[cmd_len++] = exe[i];
    cmd_template[cmd_len++] = L'"';
    for (i = 0; flag[i] != L'\0'; i++)
        cmd_template[cmd_len++] = flag[i];
    cmd_template[cmd_len] = L'\0';

    for (r = -1; r < reps; r++) {  /* r == -1: untimed warm-up */
        STARTUPINFOW si;
        PROCESS_INFORMATION pi;
        DWORD code = 1;

        if (r == 0)
            t0 = now();
        /* CreateProcessW may write to its command line: fresh copy each time */
        memcpy(cmd, cmd_template, (cmd_len + 1) * sizeof cmd[0]);
        memset(&si, 0, sizeof si);
        si.cb = sizeof si;
        memset(&pi, 0, sizeof pi);
        if (!CreateProcessW(exe, cmd, NULL, NULL, FALSE, 0, NULL, NULL,
                            &si, &pi)) {
            fprintf(stderr, "baseline_raw: CreateProcessW failed (%lu)\n",
                    (unsigned long)GetLastError());
            return -1;
        }
        CloseHandle(pi.hThread);
        if (WaitForSingleObject(pi.hProcess, INFINITE) != WAIT_OBJECT_0 ||
            !GetExitCodeProcess(pi.hProcess, &code) || code != 0) {
            fprintf(stderr, "baseline_raw: child failed (exit code %lu)\n",
                    (unsigned long)code);
            CloseHandle(pi.hProcess);
            return -1;
        }
        CloseHandle(pi.hProcess);
    }
    t1 = now();
    elapsed = seconds_between(t0, t1);
    emit("raw CreateProcessW+wait", -1, o->rss_mib < 0 ? 0 : o->rss_mib,
         "s", elapsed / (double)reps, NULL, 0.0, reps);
    return 0;
}

#define POSIX_ONLY "POSIX-only figure; not available on Windows"

static const figure_t figures[] = {
    {"fork", OPT_RSS, 200, NULL, POSIX_ONLY},
    {"posix_spawn", OPT_RSS, 50, NULL, POSIX_ONLY},
    {"pthread", OPT_RSS, 2000, NULL, POSIX_ONLY},
    {"pipe", OPT_SIZE, 0, NULL, POSIX_ONLY},
    {"pipe_rtt", 0, 20000, NULL, POSIX_ONLY},
    {"mutex_uncontended", 0, 2000000, NULL, POSIX_ONLY},
    {"mutex_pingpong", 0, 20000, NULL, POSIX_ONLY},
    {"createprocess", OPT_RSS, 20, run_createprocess, NULL},
};

#else /* POSIX */
/* ------------------------------------------------------------------ */
/* POSIX helpers                                                      */
/* ------------------------------------------------------------------ */

#define EXE_BUF 4096

/* Waits for pid (retrying on EINTR); 0 if it exited with status 0. */
static int wait_ok(pid_t pid, const char *what)
{
    int status = 0;
    pid_t w;

    do {
        w = waitpid(pid, &status, 0);
    } while (w < 0 && errno == EINTR);
    if (w < 0) {
        fprintf(stderr, "baseline_raw: waitpid (%s): %s\n", what,
                strerror(errno));
        return -1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (WIFEXITED(status))
            fprintf(stderr, "baseline_raw: %s exited with status %d\n", what,
                    WEXITSTATUS(status));
        else if (WIFSIGNALED(status))
            fprintf(stderr, "baseline_raw: %s killed by signal %d\n", what,
                    WTERMSIG(status));
        else
            fprintf(stderr, "baseline_raw: %s ended abnormally\n", what);
        return -1;
    }
    return 0;
}

/* Error path in the parent: make sure the child is gone and reaped. */
static void kill_and_reap(pid_t pid)
{
    int status;

    (void)kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        (void)close(*fd);
        *fd = -1;
    }
}

/* Writes all n bytes: one write() call, looping only on a partial write. */
static int write_all(int fd, const void *buf, size_t n)
{
    const unsigned char *p = buf;

    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads until n bytes or EOF; *got < n means EOF came first. */
static int read_full(int fd, void *buf, size_t n, size_t *got)
{
    unsigned char *p = buf;
    size_t done = 0;

    while (done < n) {
        ssize_t r = read(fd, p + done, n - done);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            break;
        done += (size_t)r;
    }
    *got = done;
    return 0;
}

static void child_fail(const char *what)
{
    fprintf(stderr, "baseline_raw: child: %s: %s\n", what, strerror(errno));
    _exit(1);
}

/* ------------------------------------------------------------------ */
/* 1. fork                                                            */
/* ------------------------------------------------------------------ */

static int fork_once(void)
{
    pid_t pid = fork();

    if (pid < 0) {
        perror("baseline_raw: fork");
        return -1;
    }
    if (pid == 0)
        _exit(0);
    return wait_ok(pid, "fork child");
}

static int run_fork(const char *self, const opts_t *o, long long reps)
{
    stamp_t t0, t1;
    long long r;

    (void)self;
    if (fork_once() != 0)  /* warm-up */
        return -1;
    t0 = now();
    for (r = 0; r < reps; r++)
        if (fork_once() != 0)
            return -1;
    t1 = now();
    emit("raw fork+waitpid", -1, o->rss_mib < 0 ? 0 : o->rss_mib, "s",
         seconds_between(t0, t1) / (double)reps, NULL, 0.0, reps);
    return 0;
}

/* ------------------------------------------------------------------ */
/* 2. posix_spawn                                                     */
/* ------------------------------------------------------------------ */

static char g_exe[EXE_BUF];
static char g_child_flag[] = "--child-exit";

static int spawn_once(int search_path)
{
    char *child_argv[3];
    pid_t pid;
    int err;

    child_argv[0] = g_exe;
    child_argv[1] = g_child_flag;
    child_argv[2] = NULL;
    if (search_path)
        err = posix_spawnp(&pid, g_exe, NULL, NULL, child_argv, environ);
    else
        err = posix_spawn(&pid, g_exe, NULL, NULL, child_argv, environ);
    if (err != 0) {
        fprintf(stderr, "baseline_raw: posix_spawn %s: %s\n", g_exe,
                strerror(err));
        return -1;
    }
    return wait_ok(pid, "spawned child");
}

static int run_posix_spawn(const char *self, const opts_t *o, long long reps)
{
    stamp_t t0, t1;
    long long r;
    ssize_t n;
    int search_path = 0;

    n = readlink("/proc/self/exe", g_exe, sizeof g_exe - 1);
    if (n > 0 && (size_t)n < sizeof g_exe - 1) {
        g_exe[n] = '\0';
        if (access(g_exe, X_OK) != 0)  /* e.g. "... (deleted)" */
            n = -1;
    } else {
        n = -1;
    }
    if (n < 0) {
        if (strlen(self) >= sizeof g_exe) {
            fprintf(stderr, "baseline_raw: argv[0] too long\n");
            return -1;
        }
        strcpy(g_exe, self);
        search_path = strchr(g_exe, '/') == NULL;  /* started via PATH */
    }

    if (spawn_once(search_path) != 0)  /* warm-up */
        return -1;
    t0 = now();
    for (r = 0; r < reps; r++)
        if (spawn_once(search_path) != 0)
            return -1;
    t1 = now();
    emit("raw posix_spawn+waitpid", -1, o->rss_mib < 0 ? 0 : o->rss_mib, "s",
         seconds_between(t0, t1) / (double)reps, NULL, 0.0, reps);
    return 0;
}

/* ------------------------------------------------------------------ */
/* 3. pthread                                                         */
/* ------------------------------------------------------------------ */

static void *empty_thread(void *arg)
{
    return arg;
}

static int thread_once(void)
{
    pthread_t t;
    int err = pthread_create(&t, NULL, empty_thread, NULL);

    if (err != 0) {
        fprintf(stderr, "baseline_raw: pthread_create: %s\n", strerror(err));
        return -1;
    }
    err = pthread_join(t, NULL);
    if (err != 0) {
        fprintf(stderr, "baseline_raw: pthread_join: %s\n", strerror(err));
        return -1;
    }
    return 0;
}

static int run_pthread(const char *self, const opts_t *o, long long reps)
{
    stamp_t t0, t1;
    long long r;

    (void)self;
    if (thread_once() != 0)  /* warm-up */
        return -1;
    t0 = now();
    for (r = 0; r < reps; r++)
        if (thread_once() != 0)
            return -1;
    t1 = now();
    emit("raw pthread_create+join", -1, o->rss_mib < 0 ? 0 : o->rss_mib, "s",
         seconds_between(t0, t1) / (double)reps, NULL, 0.0, reps);
    return 0;
}

/* ------------------------------------------------------------------ */
/* 5. pipe: producer -> consumer, 4-byte length prefix + body         */
/* ------------------------------------------------------------------ */

/* Consumer: one warm-up message, then an ack byte, then counts messages
 * until EOF.  Exit status 0 iff exactly `expect` well-formed messages. */
static void pipe_consumer(int in, int ack, size_t size, long long expect)
{
    unsigned char hdr[4];
    unsigned char *body = malloc(size > 0 ? size : 1);
    long long count = 0;
    uint32_t len;
    size_t got;
    int warm = 1;

    if (body == NULL)
        child_fail("malloc");
    for (;;) {
        if (read_full(in, hdr, sizeof hdr, &got) != 0)
            child_fail("read");
        if (got == 0)
            break;  /* EOF: producer closed its end */
        if (got != sizeof hdr) {
            fprintf(stderr, "baseline_raw: child: truncated prefix\n");
            _exit(1);
        }
        memcpy(&len, hdr, sizeof len);
        if ((size_t)len != size) {
            fprintf(stderr, "baseline_raw: child: bad length %lu\n",
                    (unsigned long)len);
            _exit(1);
        }
        if (read_full(in, body, len, &got) != 0)
            child_fail("read");
        if (got != len) {
            fprintf(stderr, "baseline_raw: child: truncated body\n");
            _exit(1);
        }
        if (warm) {
            unsigned char b = 1;
            warm = 0;
            if (write_all(ack, &b, 1) != 0)
                child_fail("write ack");
            (void)close(ack);
            continue;
        }
        count++;
    }
    if (count != expect) {
        fprintf(stderr, "baseline_raw: child: got %lld messages, want %lld\n",
                count, expect);
        _exit(1);
    }
    _exit(0);
}

static int run_pipe(const char *self, const opts_t *o, long long reps)
{
    size_t size = (size_t)(o->size < 0 ? 0 : o->size);
    size_t msg_len = 4 + size;
    unsigned char *msg;
    uint32_t len32 = (uint32_t)size;
    int data[2] = {-1, -1}, ack[2] = {-1, -1};
    unsigned char b;
    size_t got;
    stamp_t t0, t1;
    double elapsed;
    long long r;
    pid_t pid;

    (void)self;
    msg = malloc(msg_len);
    if (msg == NULL) {
        fprintf(stderr, "baseline_raw: cannot allocate %zu bytes\n", msg_len);
        return -1;
    }
    memcpy(msg, &len32, 4);
    memset(msg + 4, 'x', size);

    if (pipe(data) != 0 || pipe(ack) != 0) {
        perror("baseline_raw: pipe");
        close_fd(&data[0]);
        close_fd(&data[1]);
        free(msg);
        return -1;
    }
    pid = fork();
    if (pid < 0) {
        perror("baseline_raw: fork");
        close_fd(&data[0]);
        close_fd(&data[1]);
        close_fd(&ack[0]);
        close_fd(&ack[1]);
        free(msg);
        return -1;
    }
    if (pid == 0) {
        close_fd(&data[1]);
        close_fd(&ack[0]);
        pipe_consumer(data[0], ack[1], size, reps);
    }
    close_fd(&data[0]);
    close_fd(&ack[1]);

    /* Untimed warm-up message; the ack says the consumer is running. */
    if (write_all(data[1], msg, msg_len) != 0 ||
        read_full(ack[0], &b, 1, &got) != 0 || got != 1) {
        fprintf(stderr, "baseline_raw: pipe warm-up failed: %s\n",
                strerror(errno));
        goto fail;
    }
    close_fd(&ack[0]);

    t0 = now();
    for (r = 0; r < reps; r++) {
        if (write_all(data[1], msg, msg_len) != 0) {
            perror("baseline_raw: write");
            goto fail;
        }
    }
    close_fd(&data[1]);
    if (wait_ok(pid, "pipe consumer") != 0) {
        free(msg);
        return -1;
    }
    t1 = now();
    free(msg);

    elapsed = seconds_between(t0, t1);
    if (elapsed <= 0.0) {
        fprintf(stderr, "baseline_raw: non-positive elapsed time\n");
        return -1;
    }
    emit("raw pipe, length prefix, one write per message", (long long)size,
         -1, "msgs/s", (double)reps / elapsed, "mb_per_s",
         (double)reps * (double)size / 1e6 / elapsed, reps);
    return 0;

fail:
    close_fd(&data[1]);
    close_fd(&ack[0]);
    kill_and_reap(pid);
    free(msg);
    return -1;
}

/* ------------------------------------------------------------------ */
/* 6. pipe_rtt: 64-byte ping-pong over two pipes                      */
/* ------------------------------------------------------------------ */

static int run_pipe_rtt(const char *self, const opts_t *o, long long reps)
{
    unsigned char msg[RTT_MSG], back[RTT_MSG];
    int down[2] = {-1, -1}, up[2] = {-1, -1};
    stamp_t t0, t1;
    long long r;
    size_t got;
    pid_t pid;

    (void)self;
    (void)o;
    memset(msg, 'p', sizeof msg);
    if (pipe(down) != 0 || pipe(up) != 0) {
        perror("baseline_raw: pipe");
        close_fd(&down[0]);
        close_fd(&down[1]);
        return -1;
    }
    pid = fork();
    if (pid < 0) {
        perror("baseline_raw: fork");
        close_fd(&down[0]);
        close_fd(&down[1]);
        close_fd(&up[0]);
        close_fd(&up[1]);
        return -1;
    }
    if (pid == 0) {  /* echo until EOF */
        unsigned char buf[RTT_MSG];
        close_fd(&down[1]);
        close_fd(&up[0]);
        for (;;) {
            if (read_full(down[0], buf, sizeof buf, &got) != 0)
                child_fail("read");
            if (got == 0)
                _exit(0);
            if (got != sizeof buf) {
                fprintf(stderr, "baseline_raw: child: truncated message\n");
                _exit(1);
            }
            if (write_all(up[1], buf, sizeof buf) != 0)
                child_fail("write");
        }
    }
    close_fd(&down[0]);
    close_fd(&up[1]);

    for (r = -1; r < reps; r++) {  /* r == -1: untimed warm-up */
        if (r == 0)
            t0 = now();
        if (write_all(down[1], msg, sizeof msg) != 0 ||
            read_full(up[0], back, sizeof back, &got) != 0 ||
            got != sizeof back) {
            fprintf(stderr, "baseline_raw: ping-pong failed: %s\n",
                    strerror(errno));
            close_fd(&down[1]);
            close_fd(&up[0]);
            kill_and_reap(pid);
            return -1;
        }
    }
    t1 = now();
    close_fd(&down[1]);
    close_fd(&up[0]);
    if (wait_ok(pid, "echo child") != 0)
        return -1;
    emit("raw pipe ping-pong", RTT_MSG, -1, "s",
         seconds_between(t0, t1) / (double)reps, NULL, 0.0, reps);
    return 0;
}

/* ------------------------------------------------------------------ */
/* 7. mutex_uncontended                                               */
/* ------------------------------------------------------------------ */

static int run_mutex_uncontended(const char *self, const opts_t *o,
                                 long long reps)
{
    pthread_mutexattr_t attr;
    pthread_mutex_t *m;
    stamp_t t0, t1;
    long long r;
    int err;

    (void)self;
    (void)o;
    m = mmap(NULL, sizeof *m, PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        perror("baseline_raw: mmap");
        return -1;
    }
    if ((err = pthread_mutexattr_init(&attr)) != 0) {
        fprintf(stderr, "baseline_raw: pthread_mutexattr_init: %s\n",
                strerror(err));
        (void)munmap(m, sizeof *m);
        return -1;
    }
    err = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    if (err != 0) {
        (void)pthread_mutexattr_destroy(&attr);
        (void)munmap(m, sizeof *m);
        if (err == ENOTSUP || err == ENOSYS) {
            emit_skipped(g_figure, "process-shared pthread mutexes "
                                   "not supported on this system");
            return 0;
        }
        fprintf(stderr, "baseline_raw: pthread_mutexattr_setpshared: %s\n",
                strerror(err));
        return -1;
    }
    err = pthread_mutex_init(m, &attr);
    (void)pthread_mutexattr_destroy(&attr);
    if (err != 0) {
        fprintf(stderr, "baseline_raw: pthread_mutex_init: %s\n",
                strerror(err));
        (void)munmap(m, sizeof *m);
        return -1;
    }

    for (r = -1; r < reps; r++) {  /* r == -1: untimed warm-up */
        if (r == 0)
            t0 = now();
        if ((err = pthread_mutex_lock(m)) != 0 ||
            (err = pthread_mutex_unlock(m)) != 0) {
            fprintf(stderr, "baseline_raw: mutex lock/unlock: %s\n",
                    strerror(err));
            (void)pthread_mutex_destroy(m);
            (void)munmap(m, sizeof *m);
            return -1;
        }
    }
    t1 = now();
    (void)pthread_mutex_destroy(m);
    (void)munmap(m, sizeof *m);
    emit("process-shared pthread_mutex", -1, -1, "s",
         seconds_between(t0, t1) / (double)reps, NULL, 0.0, reps);
    return 0;
}

/* ------------------------------------------------------------------ */
/* 8. mutex_pingpong: two processes, two process-shared semaphores    */
/* ------------------------------------------------------------------ */

typedef struct {
    sem_t a;  /* parent -> child */
    sem_t b;  /* child -> parent */
} pingpong_t;

static int sem_wait_retry(sem_t *s)
{
    int rc;

    do {
        rc = sem_wait(s);
    } while (rc != 0 && errno == EINTR);
    return rc;
}

static int run_mutex_pingpong(const char *self, const opts_t *o,
                              long long reps)
{
    pingpong_t *pp;
    stamp_t t0, t1;
    long long r;
    pid_t pid;

    (void)self;
    (void)o;
    pp = mmap(NULL, sizeof *pp, PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (pp == MAP_FAILED) {
        perror("baseline_raw: mmap");
        return -1;
    }
    if (sem_init(&pp->a, 1, 0) != 0) {
        int e = errno;
        (void)munmap(pp, sizeof *pp);
        if (e == ENOSYS || e == ENOTSUP) {
            emit_skipped(g_figure, "process-shared unnamed semaphores "
                                   "not supported on this system");
            return 0;
        }
        fprintf(stderr, "baseline_raw: sem_init: %s\n", strerror(e));
        return -1;
    }
    if (sem_init(&pp->b, 1, 0) != 0) {
        perror("baseline_raw: sem_init");
        (void)sem_destroy(&pp->a);
        (void)munmap(pp, sizeof *pp);
        return -1;
    }

    pid = fork();
    if (pid < 0) {
        perror("baseline_raw: fork");
        (void)sem_destroy(&pp->a);
        (void)sem_destroy(&pp->b);
        (void)munmap(pp, sizeof *pp);
        return -1;
    }
    if (pid == 0) {  /* warm-up round + reps rounds */
        for (r = -1; r < reps; r++) {
            if (sem_wait_retry(&pp->a) != 0)
                child_fail("sem_wait");
            if (sem_post(&pp->b) != 0)
                child_fail("sem_post");
        }
        _exit(0);
    }

    for (r = -1; r < reps; r++) {  /* r == -1: untimed warm-up */
        if (r == 0)
            t0 = now();
        if (sem_post(&pp->a) != 0 || sem_wait_retry(&pp->b) != 0) {
            perror("baseline_raw: semaphore ping-pong");
            kill_and_reap(pid);
            (void)sem_destroy(&pp->a);
            (void)sem_destroy(&pp->b);
            (void)munmap(pp, sizeof *pp);
            return -1;
        }
    }
    t1 = now();
    r = wait_ok(pid, "semaphore child");
    (void)sem_destroy(&pp->a);
    (void)sem_destroy(&pp->b);
    (void)munmap(pp, sizeof *pp);
    if (r != 0)
        return -1;
    emit("process-shared sem_t ping-pong", -1, -1, "s",
         seconds_between(t0, t1) / (double)reps, NULL, 0.0, reps);
    return 0;
}

static const figure_t figures[] = {
    {"fork", OPT_RSS, 200, run_fork, NULL},
    {"posix_spawn", OPT_RSS, 50, run_posix_spawn, NULL},
    {"pthread", OPT_RSS, 2000, run_pthread, NULL},
    {"pipe", OPT_SIZE, 0, run_pipe, NULL},
    {"pipe_rtt", 0, 20000, run_pipe_rtt, NULL},
    {"mutex_uncontended", 0, 2000000, run_mutex_uncontended, NULL},
    {"mutex_pingpong", 0, 20000, run_mutex_pingpong, NULL},
    {"createprocess", OPT_RSS, 20, NULL,
     "Windows-only figure; see posix_spawn"},
};
#endif /* POSIX */

/* ------------------------------------------------------------------ */
/* main                                                               */
/* ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    const char *prog = (argc > 0 && argv[0] != NULL) ? argv[0] : "baseline_raw";
    const figure_t *fig = NULL;
    opts_t o = {-1, -1, -1};
    long long reps;
    size_t i;
    int a, rc;

    /* The spawned child of posix_spawn / createprocess: nothing else. */
    if (argc == 2 && strcmp(argv[1], "--child-exit") == 0)
        return 0;

    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2 && strcmp(argv[1], "--child-exit") == 0)
            fprintf(stderr, "%s: --child-exit takes no other arguments\n",
                    prog);
        else
            fprintf(stderr, "%s: missing FIGURE\n", prog);
        usage(prog);
        return EXIT_USAGE;
    }
    for (i = 0; i < sizeof figures / sizeof figures[0]; i++)
        if (strcmp(argv[1], figures[i].name) == 0)
            fig = &figures[i];
    if (fig == NULL) {
        fprintf(stderr, "%s: unknown figure '%s'\n", prog, argv[1]);
        usage(prog);
        return EXIT_USAGE;
    }
    g_figure = fig->name;

    for (a = 2; a < argc; a += 2) {
        const char *opt = argv[a];
        const char *val = a + 1 < argc ? argv[a + 1] : NULL;
        long long *dst;
        long long max;
        unsigned need;

        if (strcmp(opt, "--size") == 0) {
            dst = &o.size;
            max = MAX_SIZE;
            need = OPT_SIZE;
        } else if (strcmp(opt, "--rss") == 0) {
            dst = &o.rss_mib;
            max = (long long)(SIZE_MAX >> 20);
            need = OPT_RSS;
        } else if (strcmp(opt, "--reps") == 0) {
            dst = &o.reps;
            max = MAX_REPS;
            need = 0;
        } else {
            fprintf(stderr, "%s: unknown argument '%s'\n", prog, opt);
            usage(prog);
            return EXIT_USAGE;
        }
        if (need != 0 && (fig->options & need) == 0) {
            fprintf(stderr, "%s: %s does not apply to figure '%s'\n", prog,
                    opt, fig->name);
            return EXIT_USAGE;
        }
        if (*dst >= 0) {
            fprintf(stderr, "%s: %s given twice\n", prog, opt);
            return EXIT_USAGE;
        }
        if (baseline_parse_count(val, strcmp(opt, "--reps") == 0 ? 1 : 0, max, dst)
            != 0) {
            fprintf(stderr, "%s: %s needs an integer in %s..%lld, got '%s'\n",
                    prog, opt, strcmp(opt, "--reps") == 0 ? "1" : "0", max,
                    val != NULL ? val : "(nothing)");
            return EXIT_USAGE;
        }
    }

    if (fig->run == NULL) {
        emit_skipped(fig->name, fig->skip_reason);
        return 0;
    }

    if (o.reps > 0) {
        reps = o.reps;
    } else if (fig->def_reps > 0) {
        reps = fig->def_reps;
    } else {  /* pipe: max(50, min(500000, 50e6 / (size + 64))) */
        long long size = o.size < 0 ? 0 : o.size;
        reps = 50000000LL / (size + 64);
        if (reps > 500000)
            reps = 500000;
        if (reps < 50)
            reps = 50;
    }

    if ((fig->options & OPT_RSS) != 0 && baseline_ballast_alloc("baseline_raw", o.rss_mib) != 0)
        return EXIT_FAILURE;
    rc = fig->run(prog, &o, reps);
    baseline_ballast_free();
    return rc == 0 ? 0 : EXIT_FAILURE;
}
