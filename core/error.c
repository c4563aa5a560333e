/* Error codes, their sentences, and the per-thread last error.  A leaf:
 * calls nothing of the library (mproc__errorf, which logs, is in log.c). */
#include <stdlib.h>

#include "internal.h"

static MPROC_TLS int last_error;
static MPROC_TLS long last_os_error;

int mproc_last_error(void) { return last_error; }

long mproc_last_os_error(void) { return last_os_error; }

int mproc__error(int code)
{
    last_error = code;
    return code;
}

int mproc__sys_error(long os_error)
{
    last_os_error = os_error;
    return mproc__error(MPROC_ESYS);
}

void *mproc__null(int code)
{
    mproc__error(code);
    return NULL;
}

const char *mproc_strerror(int code)
{
    switch (code) {
    case MPROC_OK: return "success";
    case MPROC_EINVAL: return "invalid argument";
    case MPROC_ENOMEM: return "out of memory";
    case MPROC_EEMPTY: return "nothing to get: the object is empty";
    case MPROC_EFULL: return "no room to put: the object is full";
    case MPROC_ETIMEDOUT: return "the timeout passed first";
    case MPROC_ECLOSED: return "the object or its peer is closed";
    case MPROC_ENOTSUP: return "not supported on this OS or start method";
    case MPROC_ENOTREG: return "target not registered with MPROC_TARGET (spawn and forkserver need it)";
    case MPROC_ENOINIT: return "mproc_init(argc, argv) has not run where it must (first statement of main)";
    case MPROC_ESTATE: return "not valid in the object's current state";
    case MPROC_EEXIST: return "already set";
    case MPROC_EBROKEN: return "broken: a peer died or the data is corrupt";
    case MPROC_ETOOBIG: return "message larger than the configured limit";
    case MPROC_ESYS: return "operating system error (see mproc_last_os_error)";
    case MPROC_ETASK: return "the task returned a nonzero code";
    default: return "unknown mproc error code";
    }
}

void mproc_free(void *buf) { free(buf); }
