/*
 * The spawn start method: posix_spawn of the running executable with the
 * parent's argv, or of the program the core names (mproc_set_executable,
 * mproc-worker for mproc_set_spawn_module).  The child's only inherited descriptors are the std
 * streams and the bootstrap socket, placed at fd 3 and named by the
 * environment variable the core chooses.
 */
#include "posix.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#if MPROC_HAVE_DLADDR
#include <dlfcn.h>
#endif
#if MPROC_HAVE_NSGETEXECUTABLEPATH
#include <mach-o/dyld.h>
#endif
#if MPROC_HAVE_KERN_PROC_PATHNAME
#include <sys/sysctl.h>
#endif
#if MPROC_HAVE_CRT_EXTERNS
/* A shared library on macOS cannot link environ directly. */
#include <crt_externs.h>
#define environ (*_NSGetEnviron())
#else
extern char **environ;
#endif

#define BOOTSTRAP_FD 3

static char exe_path[PATH_MAX];
static char **saved_argv;
static int initialized;

/* argv[0] as the shell found it: a path when it holds a '/', else the
 * first executable of that name along PATH (execvp's search). */
static int exe_from_argv0(const char *argv0)
{
    const char *path = getenv("PATH"), *dir, *end;
    if (!argv0 || !*argv0)
        return -1;
    if (strchr(argv0, '/'))
        return realpath(argv0, exe_path) ? 0 : -1;
    for (dir = path ? path : "/usr/bin:/bin"; ; dir = end + 1) {
        char candidate[PATH_MAX];
        size_t len;
        end = strchr(dir, ':');
        len = end ? (size_t)(end - dir) : strlen(dir);
        /* An empty entry means the current directory. */
        if (snprintf(candidate, sizeof candidate, "%.*s/%s", (int)len, len ? dir : ".", argv0) <
                (int)sizeof candidate &&
            access(candidate, X_OK) == 0 && realpath(candidate, exe_path))
            return 0;
        if (!end)
            return -1;
    }
}

static int resolve_exe(const char *argv0)
{
#if MPROC_HAVE_PROCFS
    ssize_t n = readlink("/proc/self/exe", exe_path, sizeof exe_path - 1);
    if (n > 0) {
        exe_path[n] = '\0';
        return 0;
    }
#endif
#if MPROC_HAVE_NSGETEXECUTABLEPATH
    {
        uint32_t size = sizeof exe_path;
        char raw[PATH_MAX];
        if (_NSGetExecutablePath(raw, &size) == 0 && realpath(raw, exe_path))
            return 0;
    }
#endif
#if MPROC_HAVE_KERN_PROC_PATHNAME
    {
        int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PATHNAME, -1};
        size_t size = sizeof exe_path;
        if (sysctl(mib, 4, exe_path, &size, NULL, 0) == 0 && size > 1)
            return 0;
    }
#endif
    /* While the working directory is still the one the program started in. */
    if (exe_from_argv0(argv0) == 0)
        return 0;
    return mproc__errorf(MPROC_ESYS, "cannot find the path of the running program (argv[0] \"%s\")",
                         argv0 ? argv0 : "");
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

/* Whether entry ("NAME=value") is the variable name (len bytes). */
static int entry_is(const char *entry, const char *name, size_t len)
{
    return strncmp(entry, name, len) == 0 && entry[len] == '=';
}

/* Whether entry is a variable attrs sets or removes. */
static int edited(const char *entry, const mproc__child_attrs *attrs)
{
    for (size_t i = 0; attrs && i < attrs->n_env; i++)
        if (entry_is(entry, attrs->env_names[i], strlen(attrs->env_names[i])))
            return 1;
    return 0;
}

/* environ with attrs' edits and <env_name>=3 (any inherited value
 * replaced).  The new entries live in *strings; free both. */
static char **child_environ(const char *env_name, const mproc__child_attrs *attrs, char **strings)
{
    size_t n = 0, k = 0, name_len = strlen(env_name), size = name_len + 8, n_attrs = attrs ? attrs->n_env : 0;
    char **env, *p;

    while (environ && environ[n])
        n++;
    for (size_t i = 0; i < n_attrs; i++)
        if (attrs->env_values[i])
            size += strlen(attrs->env_names[i]) + strlen(attrs->env_values[i]) + 2;
    if (!(env = malloc((n + n_attrs + 2) * sizeof *env)) || !(*strings = p = malloc(size))) {
        free(env);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (!entry_is(environ[i], env_name, name_len) && !edited(environ[i], attrs))
            env[k++] = environ[i];
    for (size_t i = 0; i < n_attrs; i++) {
        if (!attrs->env_values[i] || strcmp(attrs->env_names[i], env_name) == 0)
            continue; /* removed; the bootstrap variable is ours */
        env[k++] = p;
        p += sprintf(p, "%s=%s", attrs->env_names[i], attrs->env_values[i]) + 1;
    }
    env[k++] = p;
    snprintf(p, name_len + 8, "%s=%d", env_name, BOOTSTRAP_FD);
    env[k] = NULL;
    return env;
}

int mproc__plat_spawn_sets_cwd(void) { return MPROC_HAVE_SPAWN_ADDCHDIR; }

#if !MPROC_HAVE_ADDCLOSEFROM && !MPROC_HAVE_SPAWN_CLOEXEC_DEFAULT
/* Without closefrom in posix_spawn, close explicitly every descriptor above
 * the bootstrap one that would survive exec (ours are all close-on-exec;
 * the application's may not be). */
static void close_if_inherited(int fd, void *ud)
{
    int flags = fcntl(fd, F_GETFD);
    if (fd > BOOTSTRAP_FD && flags >= 0 && !(flags & FD_CLOEXEC))
        posix_spawn_file_actions_addclose(ud, fd);
}
#endif

/* The argv of program: {path, args...}, or {path, this program's
 * arguments...} when it has none of its own.  The strings are borrowed. */
static char **program_argv(const mproc__program *program)
{
    size_t n = 0, k = 1;
    char **argv;
    if (program->args)
        while (program->args[n])
            n++;
    else if (saved_argv && saved_argv[0])
        while (saved_argv[n + 1])
            n++;
    if (!(argv = calloc(n + 2, sizeof *argv)))
        return NULL;
    argv[0] = (char *)program->path;
    for (size_t i = 0; i < n; i++)
        argv[k++] = program->args ? (char *)program->args[i] : saved_argv[i + 1];
    return argv;
}

int mproc__plat_library_path(char **out)
{
#if MPROC_HAVE_DLADDR
    Dl_info info;
    char resolved[PATH_MAX];
    /* Any function of the library names the file it was loaded from. */
    if (dladdr((void *)(uintptr_t)mproc__plat_library_path, &info) && info.dli_fname && info.dli_fname[0]) {
        const char *name = realpath(info.dli_fname, resolved) ? resolved : info.dli_fname;
        size_t n = strlen(name) + 1;
        if (!(*out = malloc(n)))
            return mproc__error(MPROC_ENOMEM);
        memcpy(*out, name, n);
        return 0;
    }
    return mproc__error(MPROC_ESYS);
#else
    *out = NULL;
    return mproc__error(MPROC_ENOTSUP);
#endif
}

int mproc__plat_is_program(const char *path)
{
    struct stat st;
    return path && *path && stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

static int spawn_program(mproc__child **out, const char *env_name, const char *path, char *const *argv,
                         const mproc__child_attrs *attrs)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t empty;
    short flags = POSIX_SPAWN_SETSIGMASK;
    mproc__child *c;
    char **env, *entry = NULL;
    int sv[2], err, moved[3] = {-1, -1, -1};
    pid_t pid;

    if (!(c = mproc__posix_child_new()))
        return mproc__error(MPROC_ENOMEM);
    if (mproc__posix_socketpair(sv, 0) != 0) {
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
    if (sv[1] < 0 || !(env = child_environ(env_name, attrs, &entry))) {
        err = sv[1] < 0 ? errno : ENOMEM;
        close(sv[0]);
        if (sv[1] >= 0)
            close(sv[1]);
        mproc__plat_child_free(c);
        return err == ENOMEM ? mproc__error(MPROC_ENOMEM) : mproc__sys_error(err);
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    /* The std streams first, each from a copy above BOOTSTRAP_FD: a file
     * opened for them may sit at 0-2 (dup2 onto itself would keep its
     * close-on-exec flag, and an earlier dup2 could overwrite it) or at
     * BOOTSTRAP_FD, which the channel then takes. */
    for (int i = 0; attrs && i < 3; i++) {
        if (attrs->std[i] == MPROC__NO_HANDLE)
            continue;
        moved[i] = fcntl((int)attrs->std[i], F_DUPFD_CLOEXEC, BOOTSTRAP_FD + 1);
        posix_spawn_file_actions_adddup2(&fa, moved[i] >= 0 ? moved[i] : (int)attrs->std[i], i);
    }
    posix_spawn_file_actions_adddup2(&fa, sv[1], BOOTSTRAP_FD);
#if MPROC_HAVE_SPAWN_ADDCHDIR
    if (attrs && attrs->cwd)
        posix_spawn_file_actions_addchdir_np(&fa, attrs->cwd);
#endif
#if MPROC_HAVE_ADDCLOSEFROM
    posix_spawn_file_actions_addclosefrom_np(&fa, BOOTSTRAP_FD + 1);
#elif MPROC_HAVE_SPAWN_CLOEXEC_DEFAULT
    /* Close everything not named by a file action. */
    flags |= POSIX_SPAWN_CLOEXEC_DEFAULT;
    posix_spawn_file_actions_addinherit_np(&fa, 0);
    posix_spawn_file_actions_addinherit_np(&fa, 1);
    posix_spawn_file_actions_addinherit_np(&fa, 2);
#else
    /* Listing and spawning under the descriptor lock: no descriptor of ours
     * is between its creation and FD_CLOEXEC meanwhile.  (posix_spawn runs
     * no fork handlers in glibc >= 2.24, musl or the BSDs, so it does not
     * take the lock again.) */
    mproc__posix_fd_lock();
    mproc__posix_each_fd(BOOTSTRAP_FD + 1, close_if_inherited, &fa);
#endif
    /* The child starts with no signals blocked, whatever this thread blocks. */
    sigemptyset(&empty);
    posix_spawnattr_setsigmask(&attr, &empty);
    posix_spawnattr_setflags(&attr, flags);
    err = posix_spawn(&pid, path, &fa, &attr, argv, env);
#if !MPROC_HAVE_ADDCLOSEFROM && !MPROC_HAVE_SPAWN_CLOEXEC_DEFAULT
    mproc__posix_fd_unlock();
#endif
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    for (int i = 0; i < 3; i++)
        if (moved[i] >= 0)
            close(moved[i]);
    free(env);
    free(entry);
    close(sv[1]);
    if (err != 0) {
        close(sv[0]);
        mproc__plat_child_free(c);
#if MPROC_HAVE_SPAWN_ADDCHDIR
        /* posix_spawn reports a failed chdir as its own failure. */
        if (attrs && attrs->cwd && mproc__plat_check_dir(attrs->cwd) != 0 && mproc__sys_error(err))
            return mproc__errorf(MPROC_ESYS, "cannot start the child in working directory '%s' (%s)", attrs->cwd,
                                 strerror(err));
#endif
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

int mproc__plat_spawn(mproc__child **out, const char *env_name, const mproc__program *program,
                      const mproc__child_attrs *attrs)
{
    char **argv;
    int rc;

    if (!program || !program->path) {
        if (!initialized)
            return mproc__error(MPROC_ENOINIT); /* core/bootstrap.c says why */
        return spawn_program(out, env_name, exe_path, saved_argv, attrs);
    }
    if (!(argv = program_argv(program)))
        return mproc__error(MPROC_ENOMEM);
    rc = spawn_program(out, env_name, program->path, argv, attrs);
    free(argv);
    return rc;
}
