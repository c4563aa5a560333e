/* The kinds of objects that can be handed to a child in mproc_args. */
#include "internal.h"

extern const mproc__objtype mproc__shm_type;

const mproc__objtype *const mproc__objtypes[MPROC__OBJ_COUNT] = {
    [MPROC__OBJ_SHM] = &mproc__shm_type,
};
