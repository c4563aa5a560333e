/*
 * Handles crossing into a spawned child.  Windows has nothing like
 * SCM_RIGHTS: as CPython's popen_spawn_win32 does, the parent duplicates
 * each handle straight into the child's handle table (DuplicateHandle with
 * the child's process handle as target) and sends the values they have
 * there:
 *
 *     u32 count, count x u64 handle values (as in the child), little-endian
 *
 * The duplicates are not inheritable, so the child's own children do not
 * get them either.  Also: adopting the channel a spawned child inherited.
 */
#include "win.h"

#define COUNT_BYTES 4
#define VALUE_BYTES 8

/* Closes, inside the child, the handles duplicated into it. */
static void close_in_child(mproc__child *c, const HANDLE *theirs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        DuplicateHandle(c->handle, theirs[i], NULL, NULL, 0, FALSE, DUPLICATE_CLOSE_SOURCE);
}

static void put_le(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

int mproc__plat_send_handles(mproc__handle channel, mproc__child *to, const mproc__handle *hs, size_t n)
{
    unsigned char msg[COUNT_BYTES + VALUE_BYTES * MPROC__MAX_HANDLES];
    HANDLE theirs[MPROC__MAX_HANDLES];
    size_t dup = 0;
    int rc = 0;

    if (n > MPROC__MAX_HANDLES)
        return mproc__error(MPROC_ETOOBIG);
    if (to == NULL || to->is_thread)
        return mproc__error(MPROC_EINVAL);
    put_le(msg, n, COUNT_BYTES);
    for (size_t i = 0; i < n; i++) {
        HANDLE their = (HANDLE)MPROC__NO_HANDLE;
        /* NO_HANDLE is GetCurrentProcess()'s pseudo-handle: duplicating it
         * would give the child a handle to this process. */
        if (hs[i] != MPROC__NO_HANDLE) {
            if (!DuplicateHandle(GetCurrentProcess(), (HANDLE)hs[i], to->handle, &their, 0, FALSE,
                                 DUPLICATE_SAME_ACCESS)) {
                rc = mproc__sys_error((long)GetLastError());
                break;
            }
            theirs[dup++] = their;
        }
        put_le(msg + COUNT_BYTES + VALUE_BYTES * i, (uint64_t)(uintptr_t)their, VALUE_BYTES);
    }
    if (rc == 0)
        rc = mproc__plat_write_all(channel, msg, COUNT_BYTES + VALUE_BYTES * n);
    /* A child that did not get the values cannot close what it holds. */
    if (rc != 0)
        close_in_child(to, theirs, dup);
    return rc;
}

int mproc__plat_recv_handles(mproc__handle channel, mproc__handle *hs, size_t cap, size_t *n)
{
    unsigned char msg[VALUE_BYTES * MPROC__MAX_HANDLES];
    uint64_t count;
    int rc;

    *n = 0;
    if ((rc = mproc__plat_read_all(channel, msg, COUNT_BYTES)) != 0)
        return rc; /* MPROC_ECLOSED: the parent went before sending */
    count = get_le(msg, COUNT_BYTES);
    if (count > MPROC__MAX_HANDLES)
        return mproc__error(MPROC_EBROKEN);
    if (count > 0 && (rc = mproc__plat_read_all(channel, msg, VALUE_BYTES * (size_t)count)) != 0)
        return rc == MPROC_ECLOSED ? mproc__error(MPROC_EBROKEN) : rc;
    for (size_t i = 0; i < count; i++) {
        mproc__handle h = (mproc__handle)(intptr_t)get_le(msg + VALUE_BYTES * i, VALUE_BYTES);
        if (i < cap)
            hs[i] = h;
        else
            mproc__plat_close(h); /* already ours: more than asked for */
    }
    if (count > cap) {
        for (size_t i = 0; i < cap; i++)
            mproc__plat_close(hs[i]);
        return mproc__error(MPROC_EBROKEN);
    }
    *n = (size_t)count;
    return 0;
}

/* A stale variable (one that reached us through an unrelated program's
 * environment) must not make us read some other handle: it has to be the
 * client end of a pipe, as spawn made it. */
int mproc__plat_adopt_channel(mproc__handle h)
{
    DWORD flags;
    if (h == MPROC__NO_HANDLE || h == 0 || GetFileType((HANDLE)h) != FILE_TYPE_PIPE ||
        !GetNamedPipeInfo((HANDLE)h, &flags, NULL, NULL, NULL) || (flags & PIPE_SERVER_END))
        return MPROC_EINVAL;
    /* The handle came to us inheritable; our own children must not get it. */
    (void)SetHandleInformation((HANDLE)h, HANDLE_FLAG_INHERIT, 0);
    return 0;
}
