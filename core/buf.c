/*
 * The one portable record format: little-endian integers, length-prefixed
 * strings and blobs.  Writers grow a buffer; readers never step past the end
 * (a bad read sets r->bad and yields zeros, so decoders check once at the end).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int buf_reserve(mproc__buf *b, size_t n)
{
    size_t cap;
    unsigned char *p;

    if (b->failed)
        return 0;
    if (n <= b->cap - b->len)
        return 1;
    if (n > MPROC__RECORD_MAX || b->len > MPROC__RECORD_MAX - n) {
        b->failed = 1;
        return 0;
    }
    /* Doubling, or exactly what a large append needs: a 16 MiB blob in a
     * small buffer takes 16 MiB, not 32 (memory the allocator can reuse
     * for the next one, rather than fresh pages to fault in). */
    cap = b->cap ? b->cap * 2 : 64;
    if (cap < b->len + n)
        cap = b->len + n;
    p = realloc(b->data, cap);
    if (!p) {
        b->failed = 1;
        return 0;
    }
    b->data = p;
    b->cap = cap;
    return 1;
}

int mproc__buf_reserve(mproc__buf *b, size_t n)
{
    if (buf_reserve(b, n))
        return 0;
    b->failed = 0; /* nothing was written: the contents are still whole */
    return MPROC_ENOMEM;
}

void mproc__buf_bytes(mproc__buf *b, const void *p, size_t n)
{
    if (n == 0 || !buf_reserve(b, n))
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void mproc__buf_u8(mproc__buf *b, uint8_t v) { mproc__buf_bytes(b, &v, 1); }

void mproc__buf_u32(mproc__buf *b, uint32_t v)
{
    unsigned char le[4];
    for (int i = 0; i < 4; i++)
        le[i] = (unsigned char)(v >> (8 * i));
    mproc__buf_bytes(b, le, sizeof le);
}

void mproc__buf_u64(mproc__buf *b, uint64_t v)
{
    unsigned char le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (unsigned char)(v >> (8 * i));
    mproc__buf_bytes(b, le, sizeof le);
}

void mproc__buf_str(mproc__buf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n > UINT32_MAX) {
        b->failed = 1;
        return;
    }
    mproc__buf_u32(b, (uint32_t)n);
    mproc__buf_bytes(b, s, n);
}

void mproc__buf_free(mproc__buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

const void *mproc__rd_bytes(mproc__reader *r, size_t n)
{
    const void *p;
    if (r->bad || n > r->len - r->pos) {
        r->bad = 1;
        return NULL;
    }
    p = r->p + r->pos;
    r->pos += n;
    return p;
}

uint8_t mproc__rd_u8(mproc__reader *r)
{
    const unsigned char *p = mproc__rd_bytes(r, 1);
    return p ? p[0] : 0;
}

uint32_t mproc__rd_u32(mproc__reader *r)
{
    const unsigned char *p = mproc__rd_bytes(r, 4);
    uint32_t v = 0;
    for (int i = 0; p && i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

uint64_t mproc__rd_u64(mproc__reader *r)
{
    const unsigned char *p = mproc__rd_bytes(r, 8);
    uint64_t v = 0;
    for (int i = 0; p && i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

char *mproc__rd_str(mproc__reader *r, size_t max)
{
    uint32_t n = mproc__rd_u32(r);
    const char *p;
    char *s;

    if (r->bad || n > max) {
        r->bad = 1;
        return NULL;
    }
    p = mproc__rd_bytes(r, n);
    if (!p || memchr(p, '\0', n)) {
        r->bad = 1;
        return NULL;
    }
    s = malloc((size_t)n + 1);
    if (!s)
        return NULL;
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}
