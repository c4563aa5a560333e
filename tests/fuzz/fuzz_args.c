/* libFuzzer target: the argument list decoder (core/args.c), as a spawned
 * child runs it on what its parent sent.  The first byte says how many
 * handles came beside the record (none of them valid); the rest is the
 * encoded list.  Malformed input must be refused, never crash, over-read,
 * leak, or take a handle it was not given. */
#include <stdint.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mproc__handle hs[4] = {MPROC__NO_HANDLE, MPROC__NO_HANDLE, MPROC__NO_HANDLE, MPROC__NO_HANDLE};
    mproc__reader r;
    mproc_args *a;
    size_t nh;

    if (size == 0)
        return 0;
    nh = data[0] % 5;
    r = (mproc__reader){data + 1, size - 1, 0, 0};
    a = mproc__args_decode(&r, hs, nh);
    if (a) {
        size_t n = mproc_args_count(a), len;
        for (size_t i = 0; i < n; i++) {
            (void)mproc_args_i64(a, i);
            (void)mproc_args_f64(a, i);
            (void)mproc_args_str(a, i);
            (void)mproc_args_bytes(a, i, &len);
        }
        mproc_args_free(a);
    }
    return 0;
}
