/*
 * What spawn starts: this program (the default), the program set with
 * mproc_set_executable (CPython's set_executable), or the helper
 * mproc-worker loading the module set with mproc_set_spawn_module, so that
 * a library or plugin that does not own main can use spawn and forkserver.
 *
 * The choice is made here once per start and handed to the platform as an
 * mproc__program; the platform only runs it.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mproc_config.h"

#define WORKER_NAME "mproc-worker" MPROC_EXE_SUFFIX

/* Under the global lock.  Never freed at exit: a start racing an exit
 * handler must not read freed memory, and each is one small string. */
static char *executable;
static char *spawn_module;

static char *copy(const char *s)
{
    size_t n = strlen(s) + 1;
    char *c = malloc(n);
    if (c)
        memcpy(c, s, n);
    return c;
}

static int replace(char **slot, const char *value)
{
    char *c = NULL, *old;
    if (value && !(c = copy(value)))
        return mproc__error(MPROC_ENOMEM);
    mproc__plat_global_lock();
    old = *slot;
    *slot = c;
    mproc__plat_global_unlock();
    free(old);
    return 0;
}

int mproc_set_executable(const char *path) { return replace(&executable, path); }

int mproc_set_spawn_module(const char *path) { return replace(&spawn_module, path); }

int mproc__spawn_configured(void)
{
    int set;
    mproc__plat_global_lock();
    set = executable != NULL || spawn_module != NULL;
    mproc__plat_global_unlock();
    return set;
}

/* dir (its length, with the separator) + tail, malloc'd. */
static char *join(const char *dir, size_t dir_len, const char *tail)
{
    size_t n = strlen(tail) + 1;
    char *path = malloc(dir_len + n);
    if (path) {
        memcpy(path, dir, dir_len);
        memcpy(path + dir_len, tail, n);
    }
    return path;
}

/* mproc-worker beside the library's own file (a build tree; Windows' bin/),
 * else in the installed bin/ relative to it (an installed tree moved
 * elsewhere), else at the installed path.  NULL with the error set when
 * none is. */
static char *find_worker(void)
{
    static const char *const tails[] = {WORKER_NAME, MPROC_LIBDIR_TO_BINDIR "/" WORKER_NAME};
    char *lib = NULL, *candidate = NULL, *beside = NULL;

    if (mproc__plat_library_path(&lib) == 0) {
        char *slash = strrchr(lib, '/'), *back = strrchr(lib, '\\');
        size_t dir;
        if (back && (!slash || back > slash))
            slash = back;
        dir = slash ? (size_t)(slash - lib) + 1 : 0;
        for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
            if (!(candidate = join(lib, dir, tails[i])))
                break;
            if (mproc__plat_is_program(candidate)) {
                free(beside);
                free(lib);
                return candidate;
            }
            if (!beside)
                beside = candidate; /* named in the message */
            else
                free(candidate);
        }
    }
    free(lib);
    if (mproc__plat_is_program(MPROC_WORKER_INSTALL_PATH)) {
        free(beside);
        candidate = copy(MPROC_WORKER_INSTALL_PATH);
        return candidate ? candidate : mproc__null(MPROC_ENOMEM);
    }
    mproc__errorf(MPROC_ESYS,
                  "mproc_set_spawn_module needs the helper program " WORKER_NAME ", found neither beside the mproc "
                  "library (%s) nor at %s; name it with mproc_set_executable",
                  beside ? beside : "whose place is unknown here", MPROC_WORKER_INSTALL_PATH);
    free(beside);
    return NULL;
}

int mproc__spawn_how_get(mproc__spawn_how *how)
{
    char *path = NULL, *module = NULL;
    int failed = 0;

    memset(how, 0, sizeof *how);
    mproc__plat_global_lock();
    if (executable && !(path = copy(executable)))
        failed = 1;
    if (spawn_module && !(module = copy(spawn_module)))
        failed = 1;
    mproc__plat_global_unlock();
    if (failed) {
        free(path);
        free(module);
        return mproc__error(MPROC_ENOMEM);
    }
    if (module && !path && !(path = find_worker())) {
        free(module);
        return mproc_last_error();
    }
    if (!path && !mproc__plat_initialized())
        return mproc__errorf(MPROC_ENOINIT, "spawn needs mproc_init(argc, argv) as the first statement of main (or, "
                                            "in a library that does not own main, mproc_set_spawn_module)");
    how->path = path;
    how->module = module;
    how->args[0] = module;
    how->args[1] = NULL;
    how->program.path = path;
    how->program.args = module ? how->args : NULL;
    return 0;
}

void mproc__spawn_how_clear(mproc__spawn_how *how)
{
    free(how->path);
    free(how->module);
    memset(how, 0, sizeof *how);
}
