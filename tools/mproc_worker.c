/* mproc-worker: the program spawn and forkserver children run for a
 * library that does not own main (mproc_set_spawn_module in include/
 * mproc.h).  It loads the module of targets it is given, whose
 * MPROC_TARGETs register themselves as it loads, then calls mproc_init,
 * which takes the bootstrap record and runs the target (or serves as the
 * forkserver) and never returns.
 *
 *   mproc-worker MODULE      (started by mproc, never by hand)
 *
 * It links the shared mproc library, as the module must: one library in the
 * process, so one registry of targets.  A module that does not load is
 * reported on stderr and mproc_init still runs: the parent then hears from
 * the child that the target is unknown (MPROC_ENOTREG) instead of seeing
 * it vanish. */
#include <stdio.h>
#include <stdlib.h>

#include "mproc.h"
#include "mproc_config.h"

#if MPROC_HAVE_DLOPEN
#include <dlfcn.h>

static int load_module(const char *path)
{
    /* Never closed: its targets must stay as long as the process. */
    if (dlopen(path, RTLD_NOW | RTLD_LOCAL) != NULL)
        return 0;
    fprintf(stderr, "mproc-worker: cannot load %s: %s\n", path, dlerror());
    return -1;
}
#elif defined(_WIN32)
#include <windows.h>

#include <shellapi.h>

/* The path from the UTF-16 command line: argv went through the ANSI code
 * page and may have lost characters the path has. */
static int load_module(const char *path)
{
    int n;
    wchar_t **wargv = CommandLineToArgvW(GetCommandLineW(), &n);
    HMODULE module = NULL;
    DWORD err = ERROR_BAD_ARGUMENTS;
    if (wargv != NULL && n >= 2) {
        /* LoadLibrary wants backslashes; the altered search path finds the
         * DLLs the module needs beside it (mproc's own is loaded already). */
        for (wchar_t *p = wargv[1]; *p; p++)
            if (*p == L'/')
                *p = L'\\';
        module = LoadLibraryExW(wargv[1], NULL, LOAD_WITH_ALTERED_SEARCH_PATH);
        err = GetLastError();
    }
    LocalFree(wargv);
    if (module != NULL)
        return 0;
    fprintf(stderr, "mproc-worker: cannot load %s: Windows error %lu\n", path, (unsigned long)err);
    return -1;
}
#else
#error "mproc-worker needs dlopen or LoadLibraryW"
#endif

int main(int argc, char **argv)
{
    int rc;
    if (argc < 2 || argv[1][0] == '\0') {
        fprintf(stderr, "usage: mproc-worker MODULE (run by mproc's spawn for mproc_set_spawn_module)\n");
        return 2;
    }
    (void)load_module(argv[1]);
    rc = mproc_init(argc, argv);
    if (rc != 0) {
        fprintf(stderr, "mproc-worker: %s\n", mproc_last_error_message());
        return 1;
    }
    /* mproc_init returned: no parent sent a record. */
    fprintf(stderr, "mproc-worker: runs the targets of %s for a process that started it with mproc's spawn; it "
                    "does nothing on its own\n",
            argv[1]);
    return 2;
}
