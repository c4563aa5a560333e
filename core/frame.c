/*
 * Framing on byte channels: a u32 little-endian length, then the payload.
 * The reader checks the announced length against a limit before allocating,
 * so a garbage header can never cause a huge allocation or an over-read.
 */
#include <stdlib.h>

#include "internal.h"

int mproc__frame_write(mproc__handle h, const void *data, size_t len)
{
    unsigned char hdr[4];
    int rc;

    if (len > UINT32_MAX)
        return mproc__error(MPROC_ETOOBIG);
    for (int i = 0; i < 4; i++)
        hdr[i] = (unsigned char)((uint32_t)len >> (8 * i));
    rc = mproc__plat_write_all(h, hdr, sizeof hdr);
    if (rc == 0 && len > 0)
        rc = mproc__plat_write_all(h, data, len);
    return rc;
}

int mproc__frame_read(mproc__handle h, void **data, size_t *len, size_t max)
{
    unsigned char hdr[4];
    uint32_t n = 0;
    void *p;
    int rc;

    *data = NULL;
    *len = 0;
    rc = mproc__plat_read_all(h, hdr, sizeof hdr);
    if (rc != 0)
        return rc;
    for (int i = 0; i < 4; i++)
        n |= (uint32_t)hdr[i] << (8 * i);
    if (n > max)
        return mproc__error(MPROC_ETOOBIG);
    p = malloc(n ? n : 1);
    if (!p)
        return mproc__error(MPROC_ENOMEM);
    rc = n ? mproc__plat_read_all(h, p, n) : 0;
    if (rc != 0) {
        free(p);
        /* EOF inside a frame is a torn message, not a clean close. */
        return rc == MPROC_ECLOSED ? mproc__error(MPROC_EBROKEN) : rc;
    }
    *data = p;
    *len = n;
    return 0;
}

/* ---- message frames (connections and queues) ------------------------------ */

void mproc__msg_header(unsigned char hdr[MPROC__MSG_HDR], size_t len)
{
    uint32_t n = (uint32_t)len;
    uint16_t check = (uint16_t)((n ^ (n >> 16) ^ MPROC__MSG_MAGIC) & 0xffffu);
    for (int i = 0; i < 4; i++)
        hdr[i] = (unsigned char)(n >> (8 * i));
    hdr[4] = (unsigned char)(MPROC__MSG_MAGIC & 0xff);
    hdr[5] = (unsigned char)(MPROC__MSG_MAGIC >> 8);
    hdr[6] = (unsigned char)(check & 0xff);
    hdr[7] = (unsigned char)(check >> 8);
}

int mproc__msg_parse(const unsigned char hdr[MPROC__MSG_HDR], size_t max, size_t *len)
{
    uint32_t n = 0;
    uint16_t magic = (uint16_t)(hdr[4] | hdr[5] << 8), check = (uint16_t)(hdr[6] | hdr[7] << 8);
    for (int i = 0; i < 4; i++)
        n |= (uint32_t)hdr[i] << (8 * i);
    if (magic != MPROC__MSG_MAGIC || check != (uint16_t)((n ^ (n >> 16) ^ MPROC__MSG_MAGIC) & 0xffffu))
        return MPROC_EBROKEN;
    if (n > max)
        return MPROC_ETOOBIG;
    *len = n;
    return 0;
}
