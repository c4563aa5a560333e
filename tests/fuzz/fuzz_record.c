/* libFuzzer target: the bootstrap record decoder (core/bootstrap.c), the
 * first thing a spawned child or the forkserver reads.  Malformed input is
 * MPROC_EBROKEN; a record that decodes must be whole (kind, names, args). */
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mproc__record rec;
    int rc = mproc__record_decode(data, size, NULL, 0, &rec);
    if (rc == 0) {
        if (!rec.target || !rec.name || !rec.args ||
            (rec.kind != MPROC__BOOT_RUN && rec.kind != MPROC__BOOT_FORKSERVER))
            abort();
        mproc__record_clear(&rec);
    } else if (rc != MPROC_EBROKEN && rc != MPROC_ENOMEM) {
        abort();
    }
    return 0;
}
