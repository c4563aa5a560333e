/* Writes the committed seed corpus (tests/fuzz/seeds/<target>/) with the
 * library's own encoders: well-formed inputs the fuzzers mutate from.
 *     make_seeds DIR */
#include <stdio.h>
#include <string.h>

#include "internal.h"

static void save(const char *dir, const char *target, const char *name, const void *p, size_t n)
{
    char path[512];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s/%s", dir, target, name);
    if (!(f = fopen(path, "wb")) || fwrite(p, 1, n, f) != n) {
        perror(path);
        return;
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "seeds";
    mproc_args *a = mproc_args_new();
    mproc__record rec = {MPROC__BOOT_RUN, "worker", "Process-1", 0, 1234, NULL, 0, MPROC__NO_HANDLE, NULL};
    mproc__encoded enc;
    mproc__buf b = {0};
    mproc__handle hs[MPROC__MAX_HANDLES];
    size_t nh = 0;
    unsigned char frames[64], one[1 + 256];

    /* frames: two 4-byte-length frames, and a message header */
    memcpy(frames, "\x05\x00\x00\x00hello\x00\x00\x00\x00", 13);
    save(dir, "frame", "two_frames", frames, 13);
    mproc__msg_header(frames, 3);
    memcpy(frames + MPROC__MSG_HDR, "abc", 3);
    save(dir, "frame", "message", frames, MPROC__MSG_HDR + 3);

    /* args: one of each plain type, after the handle-count byte */
    mproc_args_add_i64(a, -42);
    mproc_args_add_f64(a, 2.5);
    mproc_args_add_str(a, "text");
    mproc_args_add_bytes(a, "\x00\x01\x02", 3);
    if (mproc__args_encode(a, &b, hs, &nh) == 0 && b.len < sizeof one - 1) {
        one[0] = 0;
        memcpy(one + 1, b.data, b.len);
        save(dir, "args", "plain_values", one, b.len + 1);
    }
    mproc__buf_free(&b);

    /* records: a run record with those arguments, and a forkserver one */
    rec.args = a;
    if (mproc__record_encode(&enc, &rec) == 0) {
        save(dir, "record", "run", enc.buf.data, enc.buf.len);
        mproc__buf_free(&enc.buf);
    }
    {
        /* the same with a child's attributes (no std handles: a seed has none) */
        char *names[2] = {"ADDED", "GONE"}, *values[2] = {"value", NULL};
        mproc__child_attrs attrs = {2, names, values, "/tmp", {MPROC__NO_HANDLE, MPROC__NO_HANDLE, MPROC__NO_HANDLE}};
        rec.attrs = &attrs;
        if (mproc__record_encode(&enc, &rec) == 0) {
            save(dir, "record", "run_with_attrs", enc.buf.data, enc.buf.len);
            mproc__buf_free(&enc.buf);
        }
        rec.attrs = NULL;
    }
    rec.kind = MPROC__BOOT_FORKSERVER;
    rec.target = "";
    rec.args = NULL;
    if (mproc__record_encode(&enc, &rec) == 0) {
        save(dir, "record", "forkserver", enc.buf.data, enc.buf.len);
        mproc__buf_free(&enc.buf);
    }
    mproc_args_free(a);
    return 0;
}
