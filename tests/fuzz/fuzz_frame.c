/* libFuzzer target: framing.  The input is taken as a byte stream on a
 * pipe and read back as length-prefixed frames (the bootstrap record's and
 * the forkserver's framing, core/frame.c) until the stream ends; every 8
 * bytes are also parsed as a message header (connections and queues).
 * Nothing may crash, over-read, leak, or allocate more than the limit. */
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"

#define LIMIT ((size_t)1 << 16)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mproc__handle h[2];
    for (size_t i = 0; i + MPROC__MSG_HDR <= size; i += MPROC__MSG_HDR) {
        size_t len = 0;
        if (mproc__msg_parse(data + i, LIMIT, &len) == 0 && len > LIMIT)
            abort(); /* a header over the limit must be refused */
    }
    /* A pipe holds at least 4 KiB, libFuzzer's default input size. */
    if (size > 4096 || mproc__plat_pipe(0, h) != 0)
        return 0;
    if (size > 0 && mproc__plat_write_all(h[1], data, size) != 0)
        abort();
    mproc__plat_close(h[1]);
    for (;;) {
        void *frame = NULL;
        size_t len = 0;
        int rc = mproc__frame_read(h[0], &frame, &len, LIMIT);
        if (rc != 0) {
            if (frame)
                abort(); /* nothing handed out on failure */
            break;
        }
        if (len > LIMIT)
            abort();
        free(frame);
    }
    mproc__plat_close(h[0]);
    return 0;
}
