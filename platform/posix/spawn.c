/*
 * The spawn start method: posix_spawn of the running executable with the
 * parent's argv.  The child's only inherited descriptors are the std streams
 * and the bootstrap socket, placed at fd 3 and named by MPROC_BOOTSTRAP.
 */
#include "posix.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#if defined(__APPLE__)
#include <crt_externs.h>
#include <mach-o/dyld.h>
#define environ (*_NSGetEnviron())
#else
extern char **environ;
#endif

#define BOOTSTRAP_ENV "MPROC_BOOTSTRAP"
#define BOOTSTRAP_FD 3

static char exe_path[PATH_MAX];
static char **saved_argv;
static int initialized;
static int bootstrap_taken;

static int resolve_exe(const char *argv0)
{
#if defined(__linux__)
    ssize_t n = readlink("/proc/self/exe", exe_path, sizeof exe_path - 1);
    if (n > 0) {
        exe_path[n] = '\0';
        return 0;
    }
#elif defined(__APPLE__)
    uint32_t size = sizeof exe_path;
    char raw[PATH_MAX];
    if (_NSGetExecutablePath(raw, &size) == 0 && realpath(raw, exe_path))
        return 0;
#endif
    /* Fallback: argv[0], made absolute while the working directory is the
     * one the program started in. */
    if (argv0 && realpath(argv0, exe_path))
        return 0;
    return mproc__errorf(MPROC_ESYS, "cannot find the path of the running program");
}

int mproc__plat_init(int argc, char **argv)
{
    int rc;
    if (initialized)
        return 0;
    if (argc < 0 || (argc > 0 && !argv))
        return mproc__error(MPROC_EINVAL);
    if ((rc = resolve_exe(argc > 0 ? argv[0] : NULL)) != 0)
        return rc;
    saved_argv = calloc((size_t)argc + 2, sizeof *saved_argv);
    if (!saved_argv)
        return mproc__error(MPROC_ENOMEM);
    for (int i = 0; i < argc; i++)
        saved_argv[i] = argv[i];
    if (argc == 0)
        saved_argv[0] = exe_path;
    initialized = 1;
    return 0;
}

int mproc__plat_initialized(void) { return initialized; }

char *const *mproc__posix_argv(void) { return saved_argv; }

const char *mproc__posix_exe(void) { return exe_path; }

int mproc__plat_is_spawned_child(void) { return !bootstrap_taken && getenv(BOOTSTRAP_ENV) != NULL; }

mproc__handle mproc__plat_take_bootstrap(void)
{
    const char *v = getenv(BOOTSTRAP_ENV);
    struct stat st;
    char *end;
    long fd;

    if (bootstrap_taken || !v)
        return MPROC__NO_HANDLE;
    bootstrap_taken = 1;
    fd = strtol(v, &end, 10);
    unsetenv(BOOTSTRAP_ENV);
    /* A stale variable (inherited through an unrelated exec) must not make
     * us read some other descriptor: it has to be our socket. */
    if (*end != '\0' || fd < 0 || fd > INT_MAX || fstat((int)fd, &st) != 0 || !S_ISSOCK(st.st_mode))
        return MPROC__NO_HANDLE;
    mproc__posix_cloexec((int)fd);
    return (mproc__handle)fd;
}

/* environ plus MPROC_BOOTSTRAP=3 (any inherited value replaced). */
static char **child_environ(void)
{
    static char entry[] = BOOTSTRAP_ENV "=3";
    size_t n = 0, k = 0;
    char **env;

    while (environ && environ[n])
        n++;
    if (!(env = malloc((n + 2) * sizeof *env)))
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], BOOTSTRAP_ENV "=", sizeof BOOTSTRAP_ENV) != 0)
            env[k++] = environ[i];
    env[k++] = entry;
    env[k] = NULL;
    return env;
}

#if !defined(MPROC_HAVE_ADDCLOSEFROM) && !defined(__APPLE__)
/* Without closefrom in posix_spawn, close explicitly every descriptor above
 * the bootstrap one that would survive exec (ours are all close-on-exec;
 * the application's may not be). */
static void add_inherited_closes(posix_spawn_file_actions_t *fa)
{
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536)
        max = 65536;
    for (int fd = BOOTSTRAP_FD + 1; fd < max; fd++) {
        int flags = fcntl(fd, F_GETFD);
        if (flags >= 0 && !(flags & FD_CLOEXEC))
            posix_spawn_file_actions_addclose(fa, fd);
    }
}
#endif

int mproc__plat_spawn(mproc__child **out)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t empty;
    short flags = POSIX_SPAWN_SETSIGMASK;
    mproc__child *c;
    char **env;
    int sv[2], err;
    pid_t pid;

    if (!initialized)
        return mproc__errorf(MPROC_ENOINIT, "spawn needs mproc_init(argc, argv) first in main");
    if (!(c = mproc__posix_child_new(CHILD_PROCESS)))
        return MPROC_ENOMEM;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        err = errno;
        mproc__plat_child_free(c);
        return mproc__sys_error(err);
    }
    /* dup2(fd, fd) would keep FD_CLOEXEC set on some C libraries: make sure
     * the child's end is not already at the target number. */
    if (sv[1] == BOOTSTRAP_FD) {
        int moved = fcntl(sv[1], F_DUPFD_CLOEXEC, BOOTSTRAP_FD + 1);
        close(sv[1]);
        sv[1] = moved;
    }
    if (sv[1] < 0 || !(env = child_environ())) {
        err = sv[1] < 0 ? errno : ENOMEM;
        close(sv[0]);
        if (sv[1] >= 0)
            close(sv[1]);
        mproc__plat_child_free(c);
        return err == ENOMEM ? MPROC_ENOMEM : mproc__sys_error(err);
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_adddup2(&fa, sv[1], BOOTSTRAP_FD);
#if defined(MPROC_HAVE_ADDCLOSEFROM)
    posix_spawn_file_actions_addclosefrom_np(&fa, BOOTSTRAP_FD + 1);
#elif defined(__APPLE__)
    /* macOS: close everything not named by a file action. */
    flags |= POSIX_SPAWN_CLOEXEC_DEFAULT;
    posix_spawn_file_actions_addinherit_np(&fa, 0);
    posix_spawn_file_actions_addinherit_np(&fa, 1);
    posix_spawn_file_actions_addinherit_np(&fa, 2);
#else
    add_inherited_closes(&fa);
#endif
    /* The child starts with no signals blocked, whatever this thread blocks. */
    sigemptyset(&empty);
    posix_spawnattr_setsigmask(&attr, &empty);
    posix_spawnattr_setflags(&attr, flags);
    err = posix_spawn(&pid, exe_path, &fa, &attr, saved_argv, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    free(env);
    close(sv[1]);
    if (err != 0) {
        close(sv[0]);
        mproc__plat_child_free(c);
        return mproc__sys_error(err);
    }
    c->pid = pid;
    c->channel = sv[0];
    /* Without a pidfd the sentinel is the channel: the child holds its end
     * until it exits. */
    c->sentinel = mproc__posix_have_pidfd() ? mproc__posix_pidfd(pid) : -1;
    if (c->sentinel < 0)
        c->sentinel = sv[0];
    *out = c;
    return 0;
}
