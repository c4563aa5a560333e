/* A plugin that uses spawn children although the host owns main and never
 * calls mproc_init (examples/plugin/host.c).  Its entry point tells mproc to
 * run its children in mproc-worker with this plugin loaded
 * (mproc_set_spawn_module), so the targets below, registered as the plugin
 * loads, are the ones the children run.  It links the shared mproc library,
 * as mproc-worker does: one library, one registry of targets.
 *
 * Two spawn children square numbers from a task queue and put the squares
 * on a result queue; the plugin adds them up. */
#if !defined(_WIN32) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* dladdr */
#endif

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mproc.h"

#if defined(_WIN32)
#include <windows.h>
#define PLUGIN_EXPORT __declspec(dllexport)
#else
#include <dlfcn.h>
#define PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

#define WORKERS 2
#define TASKS 10

PLUGIN_EXPORT int plugin_run(void);

/* Squares each number from tasks (argument 0) onto results (argument 1)
 * until it gets the empty message. */
static int square_worker(mproc_args *args)
{
    mproc_queue *tasks = mproc_args_queue(args, 0), *results = mproc_args_queue(args, 1);
    for (;;) {
        void *data;
        size_t len;
        int64_t n, square;
        if (mproc_queue_get(tasks, &data, &len, -1) != 0)
            return 1;
        if (len != sizeof n) {
            mproc_free(data);
            return 0;
        }
        memcpy(&n, data, sizeof n);
        mproc_free(data);
        square = n * n;
        if (mproc_queue_put(results, &square, sizeof square, -1) != 0)
            return 1;
    }
}
MPROC_TARGET(square_worker);

/* The path of this plugin's file, from the address of one of its functions. */
static int own_path(char *path, size_t cap)
{
#if defined(_WIN32)
    HMODULE self;
    if (!GetModuleHandleExA(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                            (LPCSTR)(uintptr_t)plugin_run, &self))
        return -1;
    return GetModuleFileNameA(self, path, (DWORD)cap) < cap ? 0 : -1;
#else
    Dl_info info;
    if (!dladdr((void *)(uintptr_t)plugin_run, &info) || !info.dli_fname)
        return -1;
    return snprintf(path, cap, "%s", info.dli_fname) < (int)cap ? 0 : -1;
#endif
}

PLUGIN_EXPORT int plugin_run(void)
{
    mproc_ctx *spawn = mproc_get_context(MPROC_SPAWN);
    mproc_queue *tasks = NULL, *results = NULL;
    mproc_process *workers[WORKERS] = {NULL};
    char path[4096];
    int64_t total = 0;
    int started = 0, failed = 0;

    if (own_path(path, sizeof path) != 0 || mproc_set_spawn_module(path) != 0) {
        fprintf(stderr, "plugin: cannot name its own file for mproc_set_spawn_module\n");
        return 1;
    }
    tasks = mproc_queue_new(spawn, 0);
    results = mproc_queue_new(spawn, 0);
    if (!tasks || !results) {
        fprintf(stderr, "plugin: %s\n", mproc_last_error_message());
        failed = 1;
    }
    for (int i = 0; !failed && i < WORKERS; i++) {
        mproc_args *args = mproc_args_new();
        if (!args || mproc_args_add_queue(args, tasks) != 0 || mproc_args_add_queue(args, results) != 0 ||
            !(workers[i] = mproc_process_new(spawn, square_worker, args)) || mproc_process_start(workers[i]) != 0) {
            fprintf(stderr, "plugin: cannot start a worker: %s\n", mproc_last_error_message());
            failed = 1;
            break;
        }
        started++;
    }
    for (int64_t n = 1; !failed && n <= TASKS; n++)
        failed = mproc_queue_put(tasks, &n, sizeof n, -1) != 0;
    for (int i = 0; !failed && i < TASKS; i++) {
        void *data;
        size_t len;
        int64_t square;
        if (mproc_queue_get(results, &data, &len, 60) != 0 || len != sizeof square) {
            failed = 1;
            break;
        }
        memcpy(&square, data, sizeof square);
        mproc_free(data);
        total += square;
    }
    /* One empty message per worker ends it (sent even after a failure, so
     * that every started worker can be joined). */
    for (int i = 0; i < started; i++)
        (void)mproc_queue_put(tasks, "", 0, -1);
    for (int i = 0; i < started; i++) {
        int code = -1;
        if (mproc_process_join(workers[i], 60) != 0 || mproc_process_exitcode(workers[i], &code) != 0 || code != 0)
            failed = 1;
    }
    for (int i = 0; i < WORKERS; i++)
        mproc_process_free(workers[i]);
    mproc_queue_free(tasks);
    mproc_queue_free(results);
    printf("plugin: %d spawn children running this plugin's targets summed the squares of 1..%d: %lld\n", started,
           TASKS, (long long)total);
    return failed || total != 385 ? 1 : 0;
}
