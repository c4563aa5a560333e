/*
 * The shared part every synchronisation object is made of: one shared
 * memory block holding the object's state and the memory of its
 * process-shared semaphores/mutexes, plus (Windows) their kernel handles,
 * and for an object that asks, an area of more shared bytes after those
 * (a queue's read-ahead).
 * Exported to a child as the block's handle and each primitive's handle.
 */
#include "internal.h"

#define STATE_MAX MPROC__BLOCK_STATE_MAX

int mproc__block_new(mproc__block *b, size_t state_size, const int *kinds, const unsigned *values,
                     const unsigned *maxes, int n)
{
    return mproc__block_new_area(b, state_size, 0, kinds, values, maxes, n);
}

/* The area follows the primitives, so a block without one is laid out as
 * before and an importer finds it from the segment's size alone. */
static void set_area(mproc__block *b, unsigned char *mem, int n)
{
    size_t prims_end = STATE_MAX + (size_t)n * MPROC__SYNC_MEM;
    size_t size = mproc_shm_size(b->shm);
    b->area = size > prims_end ? mem + prims_end : NULL;
    b->area_len = size > prims_end ? size - prims_end : 0;
}

int mproc__block_new_area(mproc__block *b, size_t state_size, size_t area_len, const int *kinds,
                          const unsigned *values, const unsigned *maxes, int n)
{
    int rc = 0;
    unsigned char *mem;

    if (state_size > STATE_MAX || n > MPROC__BLOCK_PRIMS || area_len > MPROC__BLOCK_AREA_MAX)
        return mproc__error(MPROC_EINVAL);
    b->n = 0;
    if (!(b->shm = mproc_shm_new(NULL, STATE_MAX + (size_t)n * MPROC__SYNC_MEM + area_len)))
        return mproc_last_error();
    mem = mproc_shm_ptr(b->shm);
    b->state = mem;
    set_area(b, mem, n);
    for (int i = 0; i < n && rc == 0; i++) {
        void *slot = mem + STATE_MAX + (size_t)i * MPROC__SYNC_MEM;
        rc = kinds[i] == MPROC__PRIM_SEM ? mproc__plat_psem_init(&b->prims[i], slot, values[i], maxes[i])
                                         : mproc__plat_pmutex_init(&b->prims[i], slot);
        if (rc == 0)
            b->n++;
    }
    if (rc != 0) {
        mproc__block_free(b);
        return mproc__raise(rc);
    }
    return 0;
}

void mproc__block_free(mproc__block *b)
{
    for (int i = 0; i < b->n; i++)
        mproc__plat_psync_close(&b->prims[i]);
    b->n = 0;
    mproc_shm_free(b->shm);
    b->shm = NULL;
    b->area = NULL;
    b->area_len = 0;
}

int mproc__block_export(const mproc__block *b, mproc__buf *out, mproc__handle *hs, size_t *n, size_t cap)
{
    extern const mproc__objtype mproc__shm_type;
    int rc = mproc__shm_type.export_to(b->shm, out, hs, n, cap);
    mproc__buf_u8(out, (uint8_t)b->n);
    for (int i = 0; rc == 0 && i < b->n; i++) {
        mproc__handle h = mproc__plat_psync_handle(&b->prims[i]);
        mproc__buf_u8(out, h != MPROC__NO_HANDLE);
        if (h == MPROC__NO_HANDLE)
            continue;
        if (*n >= cap)
            return MPROC_ETOOBIG;
        hs[(*n)++] = h;
    }
    return rc;
}


int mproc__block_import(mproc__block *b, mproc__reader *r, const mproc__handle *hs, size_t n)
{
    extern const mproc__objtype mproc__shm_type;
    size_t used = 1;
    uint8_t count;
    unsigned char *mem;

    b->n = 0;
    if (n < 1 || !(b->shm = mproc__shm_type.import_from(r, hs, 1))) {
        mproc__close_handles(hs + (n > 0), n - (n > 0));
        return mproc__error(MPROC_EBROKEN);
    }
    count = mproc__rd_u8(r);
    if (r->bad || count > MPROC__BLOCK_PRIMS ||
        mproc_shm_size(b->shm) < STATE_MAX + (size_t)count * MPROC__SYNC_MEM) {
        mproc__block_free(b);
        mproc__close_handles(hs + 1, n - 1);
        return mproc__error(MPROC_EBROKEN);
    }
    mem = mproc_shm_ptr(b->shm);
    b->state = mem;
    set_area(b, mem, count);
    for (int i = 0; i < count; i++) {
        mproc__handle h = MPROC__NO_HANDLE;
        if (mproc__rd_u8(r)) {
            if (used >= n) {
                r->bad = 1;
                break;
            }
            h = hs[used++];
        }
        mproc__plat_psync_attach(&b->prims[i], mem + STATE_MAX + (size_t)i * MPROC__SYNC_MEM, h);
        b->n++;
    }
    if (r->bad || used != n) {
        mproc__block_free(b); /* closes what it attached */
        mproc__close_handles(hs + used, n - used);
        return mproc__error(MPROC_EBROKEN);
    }
    return 0;
}
