/*
 * Handles crossing into a spawned child.  Windows has nothing like
 * SCM_RIGHTS: as CPython's popen_spawn_win32 does, the parent duplicates
 * each handle straight into the child's handle table (DuplicateHandle with
 * the child's process handle as target) and sends the values they have
 * there ahead of the bootstrap frame:
 *
 *     u32 count, count x u64 handle values (as in the child), the frame
 *
 * The duplicates are not inheritable, so the child's own children do not
 * get them either.
 */
#include "win.h"

#define HANDLES_HEADER 4

/* Closes, inside the child, the handles duplicated into it. */
static void close_in_child(mproc__child *c, const HANDLE *theirs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        DuplicateHandle(c->handle, theirs[i], NULL, NULL, 0, FALSE, DUPLICATE_CLOSE_SOURCE);
}

int mproc__plat_send_bootstrap(mproc__child *c, const void *frame, size_t len, const mproc__handle *hs, size_t n)
{
    HANDLE theirs[MPROC__MAX_HANDLES];
    size_t dup = 0;
    mproc__buf head = {0};
    int rc = 0;

    if (n > MPROC__MAX_HANDLES)
        return mproc__error(MPROC_ETOOBIG);
    if (c->is_thread || c->channel == NULL)
        return mproc__error(MPROC_EINVAL);
    mproc__buf_u32(&head, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        HANDLE their = (HANDLE)MPROC__NO_HANDLE;
        /* NO_HANDLE is GetCurrentProcess()'s pseudo-handle: duplicating it
         * would give the child a handle to this process. */
        if (hs[i] != MPROC__NO_HANDLE) {
            if (!DuplicateHandle(GetCurrentProcess(), (HANDLE)hs[i], c->handle, &their, 0, FALSE,
                                 DUPLICATE_SAME_ACCESS)) {
                rc = mproc__sys_error((long)GetLastError());
                break;
            }
            theirs[dup++] = their;
        }
        mproc__buf_u64(&head, (uint64_t)(uintptr_t)their);
    }
    if (rc == 0 && head.failed)
        rc = mproc__error(MPROC_ENOMEM);
    if (rc == 0)
        rc = mproc__plat_write_all((mproc__handle)c->channel, head.data, head.len);
    if (rc == 0)
        rc = mproc__plat_write_all((mproc__handle)c->channel, frame, len);
    /* A child that did not get its record will not run it; it must not
     * keep the objects alive meanwhile either. */
    if (rc != 0)
        close_in_child(c, theirs, dup);
    mproc__buf_free(&head);
    return rc;
}

static void close_all(const mproc__handle *hs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        mproc__plat_close(hs[i]);
}

int mproc__plat_recv_bootstrap(mproc__handle ch, void **data, size_t *len, size_t max, mproc__handle *hs, size_t *n)
{
    unsigned char head[8 * MPROC__MAX_HANDLES];
    mproc__reader r = {head, HANDLES_HEADER, 0, 0};
    uint32_t count;
    int rc;

    *data = NULL;
    *len = 0;
    *n = 0;
    if ((rc = mproc__plat_read_all(ch, head, HANDLES_HEADER)) != 0)
        return rc; /* MPROC_ECLOSED: the parent went before sending */
    count = mproc__rd_u32(&r);
    if (count > MPROC__MAX_HANDLES)
        return mproc__error(MPROC_EBROKEN);
    if (count > 0 && (rc = mproc__plat_read_all(ch, head, 8 * (size_t)count)) != 0)
        return rc == MPROC_ECLOSED ? mproc__error(MPROC_EBROKEN) : rc;
    r = (mproc__reader){head, 8 * (size_t)count, 0, 0};
    for (uint32_t i = 0; i < count; i++)
        hs[i] = (mproc__handle)(intptr_t)mproc__rd_u64(&r);
    /* Ours from here on, whatever becomes of the frame. */
    rc = mproc__frame_read(ch, data, len, max);
    if (rc != 0) {
        close_all(hs, count);
        return rc == MPROC_ECLOSED ? mproc__error(MPROC_EBROKEN) : rc;
    }
    *n = count;
    return 0;
}
