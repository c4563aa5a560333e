/*
 * Shared memory blocks (multiprocessing.shared_memory / Value / Array): a
 * zero-filled mapping that every process given the block sees, each at its
 * own address.  Anonymous: it disappears with the last process holding it.
 */
#include <stdlib.h>

#include "internal.h"

#define SHM_MAX ((size_t)1 << 40)

struct mproc_shm {
    mproc__obj obj;
    void *ptr;
    size_t size;
    mproc__handle h;
};
MPROC__TAG_FIRST(struct mproc_shm);

static mproc_shm *shm_wrap(void *ptr, size_t size, mproc__handle h)
{
    mproc_shm *s = malloc(sizeof *s);
    if (!s)
        return NULL;
    mproc__obj_init(&s->obj, MPROC__T_SHM);
    s->ptr = ptr;
    s->size = size;
    s->h = h;
    return s;
}

mproc_shm *mproc_shm_new(mproc_ctx *ctx, size_t size)
{
    mproc__handle h;
    void *ptr;
    mproc_shm *s;
    int rc;

    /* ctx is only checked: one kind of mapping serves processes and threads alike. */
    if (!mproc__ctx_ok(ctx) || size == 0 || size > SHM_MAX)
        return mproc__null(MPROC_EINVAL);
    if ((rc = mproc__plat_shm_create(size, &h, &ptr)) != 0)
        return mproc__raise_null(rc);
    if (!(s = shm_wrap(ptr, size, h))) {
        mproc__plat_shm_unmap(ptr, size);
        mproc__plat_close(h);
        return mproc__null(MPROC_ENOMEM);
    }
    return s;
}

void *mproc_shm_ptr(mproc_shm *s) { return mproc__is(s, MPROC__T_SHM) ? s->ptr : mproc__null(MPROC_EINVAL); }

size_t mproc_shm_size(const mproc_shm *s)
{
    if (!mproc__is(s, MPROC__T_SHM)) {
        mproc__error(MPROC_EINVAL);
        return 0;
    }
    return s->size;
}

void mproc_shm_free(mproc_shm *s)
{
    if (!mproc__is(s, MPROC__T_SHM))
        return;
    mproc__plat_shm_unmap(s->ptr, s->size);
    mproc__plat_close(s->h);
    mproc__obj_clear(&s->obj);
    free(s);
}

static int shm_export(void *obj, mproc__buf *b, mproc__handle *hs, size_t *n, size_t cap)
{
    mproc_shm *s = obj;
    if (*n >= cap)
        return MPROC_ETOOBIG;
    hs[(*n)++] = s->h;
    mproc__buf_u64(b, (uint64_t)s->size);
    return 0;
}

static void *shm_import(mproc__reader *r, const mproc__handle *hs, size_t n)
{
    uint64_t size = mproc__rd_u64(r);
    void *ptr;
    mproc_shm *s;
    int rc;

    if (r->bad || n != 1 || size == 0 || size > SHM_MAX) {
        mproc__close_handles(hs, n);
        return mproc__null(MPROC_EBROKEN);
    }
    if ((rc = mproc__plat_shm_map(hs[0], (size_t)size, &ptr)) != 0) {
        mproc__plat_close(hs[0]);
        return mproc__raise_null(rc);
    }
    if (!(s = shm_wrap(ptr, (size_t)size, hs[0]))) {
        mproc__plat_shm_unmap(ptr, (size_t)size);
        mproc__plat_close(hs[0]);
        return mproc__null(MPROC_ENOMEM);
    }
    return s;
}

static void shm_release(void *obj) { mproc_shm_free(obj); }

const mproc__objtype mproc__shm_type = {shm_export, shm_import, shm_release};
