/* A host program that knows nothing of mproc, as a web server, an
 * interpreter or a game engine knows nothing of its plugins' libraries:
 * its main calls no mproc_init.  It loads the plugin named on its command
 * line and calls the plugin's entry point, plugin_run().
 *
 *   plugin_host PATH-TO-PLUGIN
 */
#include <stdio.h>
#include <string.h>

#if defined(_WIN32)
#include <windows.h>
#else
#include <dlfcn.h>
#endif

int main(int argc, char **argv)
{
    int (*run)(void);

    if (argc != 2) {
        fprintf(stderr, "usage: %s PATH-TO-PLUGIN\n", argv[0]);
        return 2;
    }
#if defined(_WIN32)
    {
        /* The plugin's own directory is searched for the DLLs it needs,
         * which LOAD_WITH_ALTERED_SEARCH_PATH does only for a full path with
         * backslashes: GetFullPathName makes one of what the user typed
         * (a relative path, or forward slashes as a POSIX shell passes them). */
        char path[MAX_PATH];
        DWORD n = GetFullPathNameA(argv[1], (DWORD)sizeof path, path, NULL);
        HMODULE plugin = NULL;
        if (n >= sizeof path)
            SetLastError(ERROR_FILENAME_EXCED_RANGE);
        else if (n > 0)
            plugin = LoadLibraryExA(path, NULL, LOAD_WITH_ALTERED_SEARCH_PATH);
        if (!plugin) {
            fprintf(stderr, "cannot load %s: Windows error %lu\n", argv[1], (unsigned long)GetLastError());
            return 2;
        }
        FARPROC found = GetProcAddress(plugin, "plugin_run");
        memcpy(&run, &found, sizeof run); /* a function pointer, without type punning */
    }
#else
    {
        void *plugin = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        if (!plugin) {
            fprintf(stderr, "cannot load %s: %s\n", argv[1], dlerror());
            return 2;
        }
        void *found = dlsym(plugin, "plugin_run");
        memcpy(&run, &found, sizeof run); /* a function pointer, without type punning */
    }
#endif
    if (!run) {
        fprintf(stderr, "%s has no plugin_run\n", argv[1]);
        return 2;
    }
    return run();
}
