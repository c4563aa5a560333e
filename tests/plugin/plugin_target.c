/* A plugin as an application would load it with dlopen after mproc_init:
 * its target registers itself when the library is loaded, in the process
 * that loads it, and nowhere else.  The host finds it by
 * plugin_target_fn.  Its mproc symbols resolve to the host's. */
#include "mproc.h"

static int plugin_target(mproc_args *args)
{
    (void)args;
    return 7;
}
MPROC_TARGET(plugin_target);

mproc_target_fn plugin_target_fn(void);
mproc_target_fn plugin_target_fn(void) { return plugin_target; }
