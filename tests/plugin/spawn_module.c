/* A module of targets for mproc_set_spawn_module (tests/test_plugin.c): a
 * shared library linking the shared mproc library, loaded by the test with
 * dlopen / LoadLibrary and, in spawn and forkserver children, by
 * mproc-worker.  Its target registers itself as the module loads. */
#include <stdio.h>

#include "mproc.h"

#if defined(_WIN32)
#define MODULE_EXPORT __declspec(dllexport)
#else
#define MODULE_EXPORT __attribute__((visibility("default")))
#endif

/* Puts "module_echo <n + 1>" on the queue (argument 0), n argument 1. */
static int module_echo(mproc_args *args)
{
    char text[64];
    int len = snprintf(text, sizeof text, "module_echo %lld", (long long)mproc_args_i64(args, 1) + 1);
    return mproc_queue_put(mproc_args_queue(args, 0), text, (size_t)len, 60) == 0 ? 0 : 3;
}
MPROC_TARGET(module_echo);

MODULE_EXPORT mproc_target_fn module_echo_fn(void);
MODULE_EXPORT mproc_target_fn module_echo_fn(void) { return module_echo; }
