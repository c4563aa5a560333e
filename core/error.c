/* Error codes, their sentences, and the per-thread last error with its
 * detail.  A leaf: calls nothing of the library (mproc__errorf, which
 * formats and logs the detail, is in log.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static MPROC_TLS int last_error;
static MPROC_TLS long last_os_error;
/* What the log hook got for the last failure; "" when it came without. */
static MPROC_TLS char last_detail[MPROC__DETAIL_MAX];
/* mproc_last_error_message's answer when there is no detail. */
static MPROC_TLS char last_sentence[96];
/* core/object.h: the checks made by this thread, and their count when
 * the detail was set. */
MPROC_TLS unsigned mproc__check_count;
static MPROC_TLS unsigned detail_checks;

int mproc_last_error(void) { return last_error; }

long mproc_last_os_error(void) { return last_os_error; }

const char *mproc_last_error_message(void)
{
    if (last_detail[0] || last_error == MPROC_OK)
        return last_detail;
    if (last_error == MPROC_ESYS)
        snprintf(last_sentence, sizeof last_sentence, "%s: OS error %ld", mproc_strerror(last_error), last_os_error);
    else
        snprintf(last_sentence, sizeof last_sentence, "%s", mproc_strerror(last_error));
    return last_sentence;
}

int mproc__error(int code)
{
    last_error = code;
    last_detail[0] = '\0';
    return code;
}

int mproc__raise(int code)
{
    /* The detail is kept when it came with this code in this call: no
     * public call began (no object was checked) since it was set. */
    if (code != last_error || detail_checks != mproc__check_count)
        return mproc__error(code);
    return code;
}

int mproc__error_detail(int code, const char *detail)
{
    size_t n = strlen(detail);
    if (n >= sizeof last_detail)
        n = sizeof last_detail - 1;
    last_error = code;
    memcpy(last_detail, detail, n);
    last_detail[n] = '\0';
    detail_checks = mproc__check_count;
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

void *mproc__raise_null(int code)
{
    mproc__raise(code);
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
    case MPROC_ENOTREG: return "target not registered";
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
