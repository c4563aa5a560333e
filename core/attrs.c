/*
 * A child's attributes (mproc__child_attrs) applied in the child itself:
 * by a fork before its target, by a forkserver's child, and by a spawned
 * child for what its platform could not set at the spawn (the working
 * directory without posix_spawn_file_actions_addchdir_np).  The parent's
 * side (validation, opening files) is in core/process.c.
 */
#include <stdlib.h>

#include "internal.h"

int mproc__attrs_apply(const mproc__child_attrs *a, int *stage)
{
    int rc = 0;
    if (!a)
        return 0;
    /* The environment first: the rest only reads it. */
    for (size_t i = 0; rc == 0 && i < a->n_env; i++)
        if ((rc = mproc__plat_setenv(a->env_names[i], a->env_values[i])) != 0)
            *stage = MPROC__FAIL_ENV;
    if (rc == 0 && a->cwd && (rc = mproc__plat_chdir(a->cwd)) != 0)
        *stage = MPROC__FAIL_CWD;
    for (int i = 0; rc == 0 && i < 3; i++)
        if (a->std[i] != MPROC__NO_HANDLE && (rc = mproc__plat_redirect_std(i, a->std[i])) != 0)
            *stage = MPROC__FAIL_STDIO;
    return rc;
}

void mproc__attrs_free(mproc__child_attrs *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n_env; i++) {
        free(a->env_names[i]);
        free(a->env_values[i]);
    }
    free(a->env_names);
    free(a->env_values);
    free(a->cwd);
    for (int i = 0; i < 3; i++)
        mproc__plat_close(a->std[i]);
    free(a);
}
