/*
 * Nesting helpers for objects made of others (a Condition exports its Lock,
 * an Event its Condition): the inner export goes first, prefixed by its
 * handle count and size, so the importer knows where each part ends.
 */
#include "internal.h"

int mproc__export_nested(const mproc__objtype *t, void *obj, mproc__buf *b, mproc__handle *hs, size_t *n, size_t cap)
{
    mproc__buf inner = {0};
    size_t start = *n;
    int rc = t->export_to(obj, &inner, hs, n, cap);
    if (rc == 0 && inner.failed)
        rc = MPROC_ENOMEM;
    if (rc == 0) {
        mproc__buf_u32(b, (uint32_t)(*n - start));
        mproc__buf_u32(b, (uint32_t)inner.len);
        mproc__buf_bytes(b, inner.data, inner.len);
    }
    mproc__buf_free(&inner);
    return rc;
}

void *mproc__import_nested(const mproc__objtype *t, mproc__reader *r, const mproc__handle *hs, size_t n,
                           size_t *used)
{
    uint32_t count = mproc__rd_u32(r), size = mproc__rd_u32(r);
    const void *bytes = mproc__rd_bytes(r, size);
    mproc__reader inner = {bytes, size, 0, 0};
    void *obj;

    *used = 0;
    if (r->bad || count > n)
        return NULL;
    obj = t->import_from(&inner, hs, count);
    *used = count;
    if (obj && (inner.bad || inner.pos != inner.len)) {
        t->release(obj);
        obj = NULL;
    }
    return obj;
}

void mproc__close_handles(const mproc__handle *hs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        mproc__plat_close(hs[i]);
}
